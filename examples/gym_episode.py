"""One episode of the in-process Gymnasium env (no HTTP, no model), e.g. as the inner loop of RL.

    pip install 'medagent[gym]'
    python examples/gym_episode.py [--suite mab-edge-v1] [--task task4_1]

The "policy" here reads the patient's magnesium results and answers with the latest value
of the last 24 hours — replace ``policy`` with your model. The reward comes from the task's
grader when the episode finishes.
"""

from __future__ import annotations

import argparse
import json
import re

import gymnasium

import medagent.gym  # noqa: F401 - registers the medagent/* ids


def policy(history: list[dict], instruction: str) -> str:
    """The next action (JSON text) from the observations so far and the task's instruction."""
    if len(history) == 1:  # only the first observation (the task) so far
        patient = re.search(r"S\d{7}", instruction).group(0)  # the MRN the task states
        return json.dumps({"name": "search_lab_observations",
                           "arguments": {"patient": patient, "code": "MG", "date": ["ge2023-11-12T10:15:00+00:00"]}})
    entries = (history[-1].get("content") or {}).get("entry", [])
    values = [e["resource"]["valueQuantity"]["value"] for e in entries]
    return json.dumps({"name": "finish", "arguments": {"answer": values[:1] or [-1]}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="mab-edge-v1")
    parser.add_argument("--task", default="task4_1")
    args = parser.parse_args()
    env = gymnasium.make(f"medagent/{args.suite}-{args.task}", max_steps=8)
    observation, info = env.reset(seed=0)
    history = [json.loads(observation)]  # {"task": the public TaskView, "tools": [...]}
    instruction = history[0]["task"]["instruction"]
    print(instruction)
    while True:
        action = policy(history, instruction)
        observation, reward, terminated, truncated, info = env.step(action)
        history.append(json.loads(observation))
        print(f"{json.loads(action)['name']}: reward={reward} terminated={terminated} truncated={truncated}")
        if terminated or truncated:
            break
    env.close()
    for check in info.get("grade", {}).get("checks", []):
        print(f"  {'✓' if check['passed'] else '✗'} {check['name']}: expected {check['expected']}, got {check['got']}")


if __name__ == "__main__":
    main()
