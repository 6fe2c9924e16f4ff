print("distillery")
