"""How a node joins the federation and finds others: enrolment, directory, discovery."""
