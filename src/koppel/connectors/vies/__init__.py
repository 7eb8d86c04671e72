"""VIES, the EU's VAT Information Exchange System: is a business customer's VAT number registered.

Not a source or target (no ``connector`` module): :mod:`.client` asks the REST API, :mod:`.cache` keeps
answers for a while (Django's cache), :mod:`.sandbox` simulates it for the demo and the tests.
"""
