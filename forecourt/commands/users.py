"""Placeholder: filled in by its issue."""

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("forecourt users: not implemented yet")
    return 2
