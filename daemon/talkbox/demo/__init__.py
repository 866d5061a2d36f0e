"""`talkbox demo`: one spoken turn of the whole appliance on its stand-ins."""
