"""One episode of the in-process gym API (no HTTP, no model), e.g. as the inner loop of RL.

    python examples/gym_episode.py [--suite mab-edge-v1] [--task task4_1]

The "policy" here reads the patient's magnesium results and answers with the latest value
of the last 24 hours — replace ``policy`` with your model. The reward comes from the task's
grader when the episode finishes.
"""

from __future__ import annotations

import argparse
import re

from medagent import gym


def policy(observation: dict, history: list[dict], instruction: str) -> dict:
    if not history:
        patient = re.search(r"S\d{7}", instruction).group(0)  # the MRN the task states
        return {"name": "search_lab_observations",
                "arguments": {"patient": patient, "code": "MG", "date": ["ge2023-11-12T10:15:00+00:00"]}}
    entries = (history[-1].get("content") or {}).get("entry", [])
    values = [e["resource"]["valueQuantity"]["value"] for e in entries]
    return {"name": "finish", "arguments": {"answer": values[:1] or [-1]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="mab-edge-v1")
    parser.add_argument("--task", default="task4_1")
    args = parser.parse_args()
    with gym.make(args.suite, args.task, max_steps=8) as env:
        observation = env.reset()
        print(observation["instruction"])
        history: list[dict] = []
        while True:
            action = policy(observation, history, env.task.instruction)  # env.task: the public view
            observation, reward, terminated, truncated, info = env.step(action)
            history.append(observation)
            print(f"{action['name']}: reward={reward} terminated={terminated} truncated={truncated}")
            if terminated or truncated:
                break
        for check in info.get("grade", {}).get("checks", []):
            print(f"  {'✓' if check['passed'] else '✗'} {check['name']}: expected {check['expected']}, got {check['got']}")


if __name__ == "__main__":
    main()
