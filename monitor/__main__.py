"""The `monitor` command, and `python -m monitor`.

Kept to a few lines on purpose: a worker process starts by importing the
script its parent was started from, and a worker has no use for the command
line, the config models or click (they would cost each worker ~10 MB)."""


def main() -> None:
    from monitor.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
