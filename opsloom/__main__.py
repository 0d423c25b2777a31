from opsloom.cli import main

main()
