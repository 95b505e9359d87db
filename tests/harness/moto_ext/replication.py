"""stub"""


def install() -> None:
    pass


def apply_due() -> None:
    pass
