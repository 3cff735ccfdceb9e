"""python -m synthgan"""

from synthgan.cli import run

run()
