from query_audit.cli import main

main()
