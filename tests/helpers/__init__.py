"""What the tests share: builders, waiters and assertions (fixtures stay in conftest.py).
No test module imports another test module; they import from here."""
