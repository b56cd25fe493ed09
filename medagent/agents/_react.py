"""``react``: the default agent — a LangGraph tool-calling loop on native tool calls.

The graph has two nodes: ``model`` asks the model (``medagent.llm.ChatClient``, the
``openai`` client with ``tools``) for the next turn; ``tools`` runs every tool call of
that turn through the env (``finish`` included) and appends one ``tool`` message per call.
The model's mistakes are its own: arguments that are not JSON, an unknown tool or
arguments that fail the tool's schema come back as that call's result (``error: …``), the
step counts and the loop goes on (as LangGraph's ToolNode, Inspect AI and tau2-bench do).
A turn with text but no tool call uses a step and gets a reminder to use the tools or
``finish``; an empty turn (no text, no tool call) gets one reminder, and a second one
ends the trial (``stop: "empty_reply"``). ``finish`` ends the loop with the answer; the
env's step limit (every tool call and ``finish`` is a step) bounds it.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, TypedDict

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from medagent.env import Env, StepLimitReached
from medagent.tasks.models import TaskView, ToolResult

SYSTEM_PROMPT = (
    "You are working inside a hospital's electronic health record (a FHIR R4 server) on "
    "behalf of a clinician. Use the tools to look up and record information; every tool "
    "call really reads or writes the record. When the task is done, call `finish` with the "
    "answer list in exactly the format the task asks for."
)
REMINDER = "Use the tools to continue, or call `finish` with the answer list."
EMPTY_REMINDER = ("Your reply was empty (no text and no tool call). Use the tools to continue, "
                  "or call `finish` with the answer list.")


class _State(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]
    turns: int
    done: bool
    empties: int  # empty replies so far


def task_prompt(view: TaskView) -> str:
    """The task as the user message: the instruction, then its context if any."""
    context = getattr(view, "context", None)
    text = view.instruction
    if context:
        text = f"{text}\n\nContext: {context}"
    return text


def result_text(result: ToolResult) -> str:
    """A tool result's content as text (JSON for parsed bodies)."""
    body = result.content
    if isinstance(body, bytes | bytearray):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else orjson.dumps(body).decode()


def _tool_content(result: ToolResult) -> str:
    payload = result_text(result)
    if result.ok:
        return payload
    status = f"HTTP {result.status}: " if result.status else ""
    if getattr(result, "retry_after", None) is not None:  # a 429/503: when to try again
        status = f"HTTP {result.status} (Retry-After: {result.retry_after:g} s): "
    return f"error: {status}{payload}"


def _env(config: RunnableConfig) -> Env:
    return config["configurable"]["env"]


async def _model(state: _State, config: RunnableConfig) -> dict[str, Any]:
    env = _env(config)
    turn = await env.llm.complete(state["messages"], env.usage, tools=env.tools)
    return {"messages": [turn.message], "turns": state["turns"] + 1}


async def _tools(state: _State, config: RunnableConfig) -> dict[str, Any]:
    env = _env(config)
    turn = state["messages"][-1]
    calls = turn.get("tool_calls") or []
    if not calls:  # a turn without a tool call
        empty = not (turn.get("content") or "").strip()
        if empty and state["empties"]:
            env.end("empty_reply")  # reminded once already: the empty reply is the answer
            return {"messages": [], "done": True}
        try:
            env.pass_turn()
        except StepLimitReached:
            return {"messages": [], "done": True}
        if empty:
            return {"messages": [{"role": "user", "content": EMPTY_REMINDER}], "empties": 1}
        return {"messages": [{"role": "user", "content": REMINDER}]}
    replies: list[dict[str, Any]] = []
    try:
        for call in calls:
            # the raw arguments text: invalid JSON is the model's error, returned as the result
            result = await env.call(call["function"]["name"], call["function"]["arguments"])
            replies.append({"role": "tool", "tool_call_id": call["id"], "content": _tool_content(result)})
            if env.finished:
                break
    except StepLimitReached:  # keep this turn's results in the transcript, then stop
        return {"messages": replies, "done": True}
    return {"messages": replies, "done": env.finished}


def _after_model(state: _State, config: RunnableConfig) -> str:
    return END if state["done"] or state["turns"] >= config["configurable"]["max_turns"] else "tools"


def _after_tools(state: _State) -> str:
    return END if state["done"] else "model"


@functools.cache
def build_graph() -> Any:
    """The compiled StateGraph (built once; each run passes its env in the config)."""
    graph = StateGraph(_State)
    graph.add_node("model", _model)
    graph.add_node("tools", _tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", _after_model, ["tools", END])
    graph.add_conditional_edges("tools", _after_tools, ["model", END])
    return graph.compile()


class ReactAgent:
    """LangGraph tool-calling agent over the suite's tools (``env.tools``) + ``finish``."""

    uses_model = True

    async def run(self, view: TaskView, env: Env) -> None:
        if env.llm is None:
            raise RuntimeError("the react agent needs a model (--model)")
        max_turns = env.max_steps + 2  # every turn uses a step; this is only a safety net
        env.messages[:] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": task_prompt(view)},
        ]
        state: _State = {"messages": list(env.messages), "turns": 0, "done": False, "empties": 0}
        config: RunnableConfig = {
            "recursion_limit": 2 * max_turns + 4,
            "configurable": {"env": env, "max_turns": max_turns},
        }
        async for update in build_graph().astream(state, config, stream_mode="updates"):
            for node in update.values():
                env.messages.extend((node or {}).get("messages", []))
