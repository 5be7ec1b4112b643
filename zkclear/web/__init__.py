"""The participant's verification page: a static page that checks a receipt in the browser (Pyodide).

``static/`` holds the page (HTML, JavaScript, CSS), :mod:`zkclear.web.bridge` the Python it runs,
:mod:`zkclear.web.assets` builds what the page loads besides itself (Pyodide, fetched once with npm at a
pinned version, and a zip of zkclear's pure-Python modules) and :mod:`zkclear.web.server` serves it all with
the published epochs on localhost (``zkclear serve``).
"""
