"""The lawyer's desk as a Python aiortc client: goes on duty and takes consultations."""
