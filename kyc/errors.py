"""The one error type of the KYC domain: bad input, named by the field it is about."""

from __future__ import annotations


class KycValidationError(ValueError):
    """Input refused before anything is stored.

    `field` is a dotted path in the admin API's request body (for example
    ``national_id.number``), `code` a stable snake_case reason and `message` a sentence
    for the operator. The message never repeats the personal value that was refused.
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message


class IllegalTransition(ValueError):
    """A verification status change the state machine does not allow."""
