from news_ingest.cli import main

main()
