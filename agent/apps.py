from django.apps import AppConfig


class AgentConfig(AppConfig):
    name = "agent"
    verbose_name = "AI agent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.doctor import register_doctor_check

        register_doctor_check("agent provider", "agent.doctor.check_agent_provider", order=80, needs_database=False)
