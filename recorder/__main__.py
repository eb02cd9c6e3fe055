from recorder.cli import entry

entry()
