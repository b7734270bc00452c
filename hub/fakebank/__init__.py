"""`hub fake-bank`: the bank (bank.wsdl) and an FK system (fk.wsdl) as fakes that
speak the real contract over signed SOAP, for tests and the demo."""
