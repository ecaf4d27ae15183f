"""Stripe's test card numbers and what each does in the emulator."""

from __future__ import annotations

from dataclasses import dataclass

from devtools.stripe_emulator.errors import StripeError, card_declined


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    # None: approved. Else (code, decline_code, message) of the decline.
    decline: tuple[str, str | None, str] | None = None
    # True for 4000 0000 0000 0341: it attaches and pays at checkout here (emulator choice,
    # so tests can get a live subscription) but every later off-session charge fails.
    fails_later: bool = False

    @property
    def last4(self) -> str:
        return self.number[-4:]


_GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
CARDS = {
    card.number: card
    for card in (
        TestCard("4242424242424242", "visa"),
        TestCard("4000056655665556", "visa"),
        TestCard("5555555555554444", "mastercard"),
        TestCard("378282246310005", "amex"),
        TestCard("4000000000000002", "visa", decline=_GENERIC),
        TestCard(
            "4000000000009995",
            "visa",
            decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
        ),
        TestCard(
            "4000000000000069", "visa", decline=("expired_card", None, "Your card has expired.")
        ),
        TestCard("4000000000000341", "visa", fails_later=True),
    )
}


def lookup(number: str) -> TestCard:
    """The test card for a number typed with or without spaces; anything else is rejected."""
    digits = "".join(ch for ch in number if ch.isdigit())
    card = CARDS.get(digits)
    if card is None:
        # Stripe test mode refuses real card numbers too; only the documented ones work.
        raise card_declined(
            "incorrect_number", None, "Your card number is incorrect.", param="number"
        )
    return card


def decline_error(card: TestCard, *, off_session: bool) -> StripeError | None:
    """The error a charge on `card` gets, or None when it is approved."""
    if card.decline is not None:
        code, decline_code, message = card.decline
        return card_declined(code, decline_code, message)
    if card.fails_later and off_session:
        code, decline_code, message = _GENERIC
        return card_declined(code, decline_code, message)
    return None
