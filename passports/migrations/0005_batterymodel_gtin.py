# A battery model's GTIN (GS1 Digital Link, passports/resolver.py).

from django.db import migrations, models

import passports.gtin


class Migration(migrations.Migration):
    dependencies = [
        ("passports", "0004_passport_end_of_life"),
    ]

    operations = [
        migrations.AddField(
            model_name="batterymodel",
            name="gtin",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="GS1 GTIN-8, 12, 13 or 14 with its check digit; kept as 14 digits",
                max_length=14,
                validators=[passports.gtin.validate_gtin],
                verbose_name="GTIN",
            ),
        ),
        migrations.AddField(
            model_name="historicalbatterymodel",
            name="gtin",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="GS1 GTIN-8, 12, 13 or 14 with its check digit; kept as 14 digits",
                max_length=14,
                validators=[passports.gtin.validate_gtin],
                verbose_name="GTIN",
            ),
        ),
        migrations.AddConstraint(
            model_name="batterymodel",
            constraint=models.UniqueConstraint(
                condition=models.Q(("gtin", ""), _negated=True),
                fields=("gtin",),
                name="uniq_battery_model_gtin",
            ),
        ),
    ]
