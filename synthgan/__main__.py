"""python -m synthgan"""

from synthgan.cli import main

main(prog_name="synthgan")
