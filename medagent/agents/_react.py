"""``react``: the default agent — a LangGraph tool-calling loop on native tool calls.

The graph has two nodes: ``model`` asks the model (``medagent.llm.ChatClient``, the
``openai`` client with ``tools``) for the next turn; ``tools`` runs every tool call of
that turn through the env and appends one ``tool`` message per call (errors included, so
the model can correct itself). ``finish`` ends the loop with the answer. A turn with text
but no tool call gets a reminder to use the tools or ``finish``; the step limit of the env
(and ``max_turns``) bound the loop.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, TypedDict

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

SYSTEM_PROMPT = (
    "You are working inside a hospital's electronic health record (a FHIR R4 server) on "
    "behalf of a clinician. Use the tools to look up and record information; every tool "
    "call really reads or writes the record. When the task is done, call `finish` with the "
    "answer list in exactly the format the task asks for."
)
REMINDER = "Use the tools to continue, or call `finish` with the answer list."


class _State(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]
    turns: int
    done: bool


def task_prompt(task: Any) -> str:
    context = getattr(task, "context", None)
    text = task.instruction
    if context:
        text = f"{text}\n\nContext: {context}"
    return text


def result_text(result: Any) -> str:
    """A tool result's content as text (JSON for parsed bodies)."""
    body = result.content
    if isinstance(body, bytes | bytearray):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else orjson.dumps(body).decode()


def _tool_content(result: Any) -> str:
    payload = result_text(result)
    if result.ok:
        return payload
    status = f"HTTP {result.status}: " if result.status else ""
    return f"error: {status}{payload}"


def _env(config: RunnableConfig) -> Any:
    return config["configurable"]["env"]


async def _model(state: _State, config: RunnableConfig) -> dict[str, Any]:
    env = _env(config)
    turn = await env.llm.complete(state["messages"], env.usage, tools=env.tools)
    return {"messages": [turn.message], "turns": state["turns"] + 1}


async def _tools(state: _State, config: RunnableConfig) -> dict[str, Any]:
    env = _env(config)
    replies: list[dict[str, Any]] = []
    done = False
    for call in state["messages"][-1].get("tool_calls") or []:
        name = call["function"]["name"]
        args = orjson.loads(call["function"]["arguments"])
        if name == "finish":
            env.finish(args.get("answer"))
            content = "finished"
            done = True
        else:
            content = _tool_content(await env.call(name, args))
        replies.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    if not replies:  # a text answer without a tool call
        replies.append({"role": "user", "content": REMINDER})
    return {"messages": replies, "done": done}


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
    """LangGraph tool-calling agent over ``tasks.TOOLS`` + ``finish``."""

    uses_model = True

    async def run(self, task: Any, env: Any) -> None:
        if env.llm is None:
            raise RuntimeError("the react agent needs a model (--model)")
        max_turns = env.max_steps + 2
        env.messages[:] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": task_prompt(task)},
        ]
        state: _State = {"messages": list(env.messages), "turns": 0, "done": False}
        config: RunnableConfig = {
            "recursion_limit": 2 * max_turns + 4,
            "configurable": {"env": env, "max_turns": max_turns},
        }
        async for update in build_graph().astream(state, config, stream_mode="updates"):
            for node in update.values():
                env.messages.extend((node or {}).get("messages", []))
