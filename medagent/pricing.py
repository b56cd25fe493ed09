"""Token prices per model, used to put a cost on each trial.

Prices are USD per million tokens (input = prompt, output = completion). The built-in
table holds published list prices of a few common models at the time of writing; they
change, so override or extend them in the settings file (``[prices."model"]``, see
``medagent.settings``). A model is looked up by its exact name, then by the longest
built-in name it starts with (so ``gpt-4o-2024-08-06`` is priced as ``gpt-4o``). An
unknown model has no cost: ``cost_usd`` is null and the summary carries a note.
"""

from __future__ import annotations

from medagent.settings import Price

BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "o3-mini": Price(input=1.10, output=4.40),
    "o4-mini": Price(input=1.10, output=4.40),
}


class PriceTable:
    def __init__(self, extra: dict[str, Price] | None = None) -> None:
        self._prices = {**BUILTIN_PRICES, **(extra or {})}

    def lookup(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self._prices:
            return self._prices[model]
        prefixes = [name for name in self._prices if model.startswith(name)]
        return self._prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = self.lookup(model)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000

    def note(self, model: str | None) -> str | None:
        """A note for the summary when the model has no price (None when it has one)."""
        if model and self.lookup(model) is None:
            return f"no price known for model {model!r}; cost not computed (add [prices] to the settings file)"
        return None
