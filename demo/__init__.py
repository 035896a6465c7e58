"""The demonstration county (方正县): a realistic, reproducible county to try the product on.

Layer: ``dashboard → demo → metrics → data``; nothing below imports ``demo``.

* :mod:`demo.generate` — the county's story and each unit-year's content (seeded);
* :mod:`demo.annual`   — each unit's 年报数据 (from 2021) from its own ledger, with two planted mistakes;
* :mod:`demo.render`   — the workbooks as the units' clerks make them (.xlsx, .xls);
* :mod:`demo.load`     — loading through the upload and review code paths;
* :mod:`demo.steps`    — the hook for further steps run after loading (``AFTER_LOAD``);
* :mod:`demo.database` — the demo database file: new, atomic rebuild, refusal of real databases;
* :mod:`demo.accounts` — the demonstration accounts the login page may show;
* ``words.toml``       — the word banks; ``fangzheng-units.csv`` — the county's registry.

``python -m demo`` builds ``var/demo.duckdb``.
"""
