"""Foundations: the sanitiser, orintui's folders, text of figures, test models; above those, the log file and the llama.cpp build."""
