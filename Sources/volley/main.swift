print("volley: not yet")
