"""The dead-letter queue, ``doorloop_error_records``: its one home.

``model`` holds a record's shape, its states and the retry policy; ``statements`` every
statement on the table (record, resolve, plan retries, list, operator actions);
``retries`` and ``failed_runs`` what the DLQ and run-failure sensors plan from it;
``commands`` the ``altus dlq`` commands. Nothing is imported here, so importing one
module never pulls in the others.
"""
