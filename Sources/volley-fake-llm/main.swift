print("volley-fake-llm: not yet")
