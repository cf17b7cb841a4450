"""Drop-ins for the gonka-poc plugin's modules (gonka_poc.poc.*), on pocrand's bit-exact ops."""
