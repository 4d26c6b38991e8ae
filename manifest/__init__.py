"""The Teams app package: the manifest template, the two icons and the code that zips them."""
