"""The edge: what talks to the outside world for the domain (PDF rendering, XML
files, SOAP, HTTP and SMTP couriers). Each adapter implements a small Protocol the
domain owns; hub.app builds them once and hands them to the services."""
