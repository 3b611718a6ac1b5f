from town.cli import main

main()
