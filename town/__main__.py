from town.app.cli import main

main()
