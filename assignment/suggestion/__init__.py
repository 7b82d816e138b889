"""Assignment suggestion (DESIGN §7): a scorer over the MDM facts with evidence, modes ``off`` / ``suggest`` / ``auto``.

The usual skeleton of an app, inside the ``assignment`` app (same label, same tables): ``models``, ``scoring``
(pure, no database), ``selectors``, ``services``, ``tasks``, ``filtersets``, ``forms``, ``views``, ``api``,
``panels`` and ``wiring`` (its hook steps); ``assignment.wiring.connect`` connects them, ``assignment.models``,
``assignment.tasks``, ``assignment.urls`` and ``assignment.api`` include them.
"""
