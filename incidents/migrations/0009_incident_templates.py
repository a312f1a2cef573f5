"""Incident templates, and the template a create was filled from on its attempt and audit
entries.

On SQLite, adding a column to the audit table copies it into a new table, which drops the
triggers that keep its full-text index (0004): they are made again, and the index rebuilt."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

text_index = importlib.import_module("incidents.migrations.0004_audit_text_index_sqlite")


def text_index_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in text_index.CREATE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0008_attempt_resent_payloads'),
    ]

    operations = [
        # Going back, removing the column copies the table again: the triggers are made again
        # after it (operations are undone in reverse order).
        migrations.RunPython(migrations.RunPython.noop, text_index_triggers_again),
        migrations.AddField(
            model_name='auditentry',
            name='template_name',
            field=models.CharField(blank=True, max_length=80),
        ),
        migrations.RunPython(text_index_triggers_again, migrations.RunPython.noop),
        migrations.AddField(
            model_name='incidentattempt',
            name='template_name',
            field=models.CharField(blank=True, max_length=80),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('incident.create.started', 'Create incident: sent'), ('incident.create.finished', 'Create incident: answered'), ('incident.create.reconciled', 'Create incident: looked up'), ('incident.edit.started', 'Edit incident: sent'), ('incident.edited', 'Edit incident: answered'), ('incident.edit.reconciled', 'Edit incident: looked up'), ('incident.update_post.started', 'Post update: sent'), ('incident.update_posted', 'Post update: answered'), ('incident.update_post.reconciled', 'Post update: looked up'), ('incident.recover.started', 'Mark recovered: sent'), ('incident.recovered', 'Mark recovered: answered'), ('incident.recover.reconciled', 'Mark recovered: looked up'), ('incident.delete.started', 'Delete incident: sent'), ('incident.deleted', 'Delete incident: answered'), ('incident.delete.reconciled', 'Delete incident: looked up'), ('incident.changed_outside', 'Changed in Phare'), ('credential.set', 'Token set'), ('credential.cleared', 'Token cleared'), ('membership.set', "Member's role set"), ('membership.removed', 'Member removed'), ('project.changed', 'Project settings changed'), ('incident_template.saved', 'Incident template saved'), ('incident_template.deleted', 'Incident template deleted')], max_length=40),
        ),
        migrations.CreateModel(
            name='IncidentTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('impact', models.CharField(choices=[('unknown', 'Unknown'), ('operational', 'Operational'), ('degraded_performance', 'Degraded performance'), ('partial_outage', 'Partial outage'), ('major_outage', 'Major outage'), ('maintenance', 'Maintenance')], max_length=30)),
                ('title', models.CharField(max_length=250)),
                ('description', models.TextField(blank=True, max_length=2000)),
                ('monitors', models.JSONField(blank=True, default=list, help_text="Phare ids of the project's monitors, in order.")),
                ('exclude_from_downtime', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='incident_templates', to='incidents.phareproject')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(fields=('project', 'name'), name='unique_incident_template_name', violation_error_message='This project already has a template with this name.')],
            },
        ),
    ]
