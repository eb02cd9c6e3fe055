from recorder.cli import entry

if __name__ == "__main__":  # the history writer process imports this module again
    entry()
