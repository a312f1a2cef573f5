"""Thin views, one module per area; `urls.py` names each as views.<area>.<function>."""
