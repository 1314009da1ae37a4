"""`python -m bot`: the Discord gateway bot."""

from bot.app import main

if __name__ == "__main__":
    main()
