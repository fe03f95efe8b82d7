"""RMI reporting templates (EMRT, CMRT, AMRT): reading, checking and writing them into the
registry. `reader` and `checker` are pure functions on an openpyxl workbook; `services`
writes; `kinds` plugs them into intake.kinds."""
