"""Django's database sessions (the engine without Redis), each request's read sent as one
hand-built statement: the ORM took several times longer to build it than the database to
answer (bench/create_cost.py, "session and user"). Writes, expiry and cleanup stay Django's."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import connection
from django.utils import timezone

from incidents import row_sql


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        model = self.model
        table = connection.ops.quote_name(model._meta.db_table)
        now = model._meta.get_field("expire_date").get_db_prep_value(
            timezone.now(), connection, prepared=False
        )
        sql = (
            f"SELECT {row_sql.select_list(model, 's')} FROM {table} s "  # noqa: S608
            "WHERE s.session_key = %s AND s.expire_date > %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's: a new session is started on save
            return None
        return row_sql.instance_from_row(model, row)
