"""The instructor bulk-classification tutorial's example, shared by the tests and bench/llm_modes.py."""

# The instructor bulk-classification tutorial's request body, verbatim.
TUTORIAL_BODY = {
    "texts": [
        "What is your phone number?",
        "What is your email address?",
        "What is your address?",
        "What is your privacy policy?",
    ],
    "tags": [
        {"id": 0, "name": "personal", "instructions": "Personal information"},
        {"id": 1, "name": "phone", "instructions": "Phone number"},
        {"id": 2, "name": "email", "instructions": "Email address"},
        {"id": 3, "name": "address", "instructions": "Address"},
        {"id": 4, "name": "Other", "instructions": "Other information"},
    ],
}

# The same, as `llmclf tags add` takes it (ids are text on the command line).
TUTORIAL_TAGS = [(str(t["id"]), t["name"], t["instructions"]) for t in TUTORIAL_BODY["tags"]]
TUTORIAL_TEXTS = TUTORIAL_BODY["texts"]
