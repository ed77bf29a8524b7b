from haircare_expert.cli import run

run()
