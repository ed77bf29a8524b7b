from haircare_expert.cli import main

main(prog_name="haircare")
