"""Every XML namespace the hub speaks, spelled once."""

SOAP_ENV_11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

X509_TOKEN_V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_ENCODING = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

OFFICE = "urn:hub:office:v1"
COMPANY = "urn:hub:company:v1"
CASHDESK = "urn:hub:cashdesk:v1"
BANK = "urn:hub:bank:v1"
BANK_IN = "urn:hub:bankin:v1"
FK = "urn:hub:fk:v1"
COMMON = "urn:hub:common:v1"

CAMT053 = {
    "001.02": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
    "001.04": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.04",
    "001.08": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
}
