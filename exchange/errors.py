"""Binance-style API errors: one exception type, rendered as `{"code", "msg"}` by the middleware.

The codes and messages mirror Binance's so that ccxt maps them to the same exception classes
it would raise against the real venue (e.g. the exact insufficient-balance text becomes
`InsufficientFunds`; any other -2010 text becomes `InvalidOrder`).
"""

from __future__ import annotations

from typing import Final

BAD_REQUEST: Final = 400
UNAUTHORIZED: Final = 401
NOT_FOUND: Final = 404
SERVER_ERROR: Final = 500

CODE_UNKNOWN: Final = -1000
CODE_ILLEGAL_CHARS: Final = -1100
CODE_MANDATORY_PARAM: Final = -1102
CODE_PARAM_NOT_REQUIRED: Final = -1106
CODE_INVALID_MESSAGE: Final = -1013
CODE_INVALID_ORDER_TYPE: Final = -1116
CODE_INVALID_SIDE: Final = -1117
CODE_INVALID_TIF: Final = -1115
CODE_BAD_INTERVAL: Final = -1120
CODE_INVALID_SYMBOL: Final = -1121
CODE_TIME_RANGE_TOO_LONG: Final = -1127
CODE_BAD_COMBINATION: Final = -1128
CODE_INVALID_PARAMETER: Final = -1130
CODE_NEW_ORDER_REJECTED: Final = -2010
CODE_CANCEL_REJECTED: Final = -2011
CODE_NO_SUCH_ORDER: Final = -2013
CODE_REJECTED_MBX_KEY: Final = -2015
CODE_ADDRESS_INVALID: Final = -4007
CODE_ADDRESS_TAG_INVALID: Final = -4008
CODE_ASSET_NOT_EXIST: Final = -4018
CODE_ASSET_NOT_OPEN: Final = -4019
CODE_WITHDRAW_MULTIPLE: Final = -4021
CODE_WITHDRAW_MIN: Final = -4022
CODE_WITHDRAW_MAX: Final = -4023
CODE_WALLET_INSUFFICIENT: Final = -4026
CODE_AMOUNT_BELOW_FEE: Final = -4028

MSG_INSUFFICIENT_BALANCE: Final = "Account has insufficient balance for requested action."
MSG_REJECTED_MBX_KEY: Final = "Invalid API-key, IP, or permissions for action."


class ApiError(Exception):
    """An answer in Binance's error shape; raising it is how handlers refuse a request."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def unauthorized(msg: str = MSG_REJECTED_MBX_KEY) -> ApiError:
    return ApiError(UNAUTHORIZED, CODE_REJECTED_MBX_KEY, msg)


def mandatory(name: str) -> ApiError:
    return ApiError(
        BAD_REQUEST,
        CODE_MANDATORY_PARAM,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def one_of_mandatory(first: str, second: str) -> ApiError:
    return ApiError(
        BAD_REQUEST,
        CODE_MANDATORY_PARAM,
        f"Param '{first}' or '{second}' must be sent, but both were empty/null!",
    )


def illegal_chars(name: str, legal: str) -> ApiError:
    return ApiError(
        BAD_REQUEST,
        CODE_ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.",
    )


def not_required(name: str) -> ApiError:
    return ApiError(BAD_REQUEST, CODE_PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required.")


def invalid_message(msg: str) -> ApiError:
    return ApiError(BAD_REQUEST, CODE_INVALID_MESSAGE, msg)


def filter_failure(filter_type: str) -> ApiError:
    return ApiError(BAD_REQUEST, CODE_INVALID_MESSAGE, f"Filter failure: {filter_type}")


def invalid_symbol() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_INVALID_SYMBOL, "Invalid symbol.")


def invalid_interval() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_BAD_INTERVAL, "Invalid interval.")


def time_range_too_long(hours: int) -> ApiError:
    return ApiError(
        BAD_REQUEST, CODE_TIME_RANGE_TOO_LONG, f"More than {hours} hours between startTime and endTime."
    )


def bad_combination() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_BAD_COMBINATION, "Combination of optional parameters invalid.")


def invalid_parameter(name: str) -> ApiError:
    return ApiError(BAD_REQUEST, CODE_INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")


def insufficient_balance() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_NEW_ORDER_REJECTED, MSG_INSUFFICIENT_BALANCE)


def order_rejected(msg: str) -> ApiError:
    return ApiError(BAD_REQUEST, CODE_NEW_ORDER_REJECTED, msg)


def no_such_order() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_NO_SUCH_ORDER, "Order does not exist.")


def unknown_order_cancel() -> ApiError:
    return ApiError(BAD_REQUEST, CODE_CANCEL_REJECTED, "Unknown order sent.")


def wallet_error(code: int, msg: str) -> ApiError:
    return ApiError(BAD_REQUEST, code, msg)
