from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Phare incidents"

    def ready(self) -> None:
        from incidents import audit_chain, credentials

        credentials.check_configuration()
        audit_chain.check_configuration()
