"""Local stand-ins for every external system the ELT suite talks to."""
