"""The indicator catalogue and the datasets behind it, as data.

Every indicator the indicators step writes has exactly one ``Entry`` here: what it is called, what
it measures (numerator and denominator), where it comes from and how to show it. ``DATASETS``
lists each raw dataset the step reads, with its publisher, licence and standard attribution.
"""
from __future__ import annotations

from dataclasses import dataclass

OGL3 = "OGL v3.0"

ONS_ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open Government "
                   "Licence v.3.0. Contains OS data © Crown copyright and database right {year}.")
GLA_ATTRIBUTION = ("Contains National Statistics data © Crown copyright and database right {year}. "
                   "Contains Ordnance Survey data © Crown copyright and database right {year}.")
PSI_ATTRIBUTION = ("Contains public sector information licensed under the Open Government "
                   "Licence v3.0.")

CENSUS_DAY = "Census Day, 21 March 2021"
CENSUS_2011 = "Census Day, 27 March 2011"

# Dataset rows (columns of dashboard.data.schema.DATASET_COLUMNS) -------------------------------------
DATASETS: tuple[dict, ...] = (
    {
        "dataset_id": "census2021-oa",
        "title": "Census 2021 topic summaries by output area (TS001, TS011, TS037, TS038, TS045, "
                 "TS054, TS062)",
        "publisher": "Office for National Statistics (Nomis)",
        "licence": OGL3,
        "attribution": ONS_ATTRIBUTION.format(year=2023),
        "period": CENSUS_DAY,
        "geography": "Output areas 2021 (26,368 in London)",
        "official_url": "https://www.nomisweb.co.uk/sources/census_2021_bulk",
        "raw_folder": "indicators/census-2021-oa",
        "used_for": "Ward 2022 indicators: residents, households, health, disability, cars, "
                    "tenure, household deprivation, socio-economic class; resident denominators "
                    "for crime rates",
        "method_notes": "Counts summed from output areas to 2022 wards with the GLA best-fit "
                        "lookup, then to boroughs and London; rates recomputed from the summed "
                        "counts at every level.",
    },
    {
        "dataset_id": "census2021-lsoa",
        "title": "Census 2021 TS007A age by five-year bands, by LSOA",
        "publisher": "Office for National Statistics (Nomis)",
        "licence": OGL3,
        "attribution": ONS_ATTRIBUTION.format(year=2023),
        "period": CENSUS_DAY,
        "geography": "Lower layer super output areas 2021 (4,994 in London)",
        "official_url": "https://www.nomisweb.co.uk/sources/census_2021_bulk",
        "raw_folder": "indicators/census-2021-lsoa",
        "used_for": "Age structure by 2022 ward; LSOA resident weights for air quality and the "
                    "denominator of public charge devices per 100,000 residents",
        "method_notes": "Counts summed from LSOAs to 2022 wards with the GLA best-fit lookup. "
                        "The five-year bands put age 15 with 15 to 19, so the child share is for "
                        "ages 0 to 14.",
    },
    {
        "dataset_id": "imd2019",
        "title": "English Indices of Deprivation 2019: File 1, Index of Multiple Deprivation",
        "publisher": "Ministry of Housing, Communities and Local Government",
        "licence": OGL3,
        "attribution": PSI_ATTRIBUTION,
        "period": "2019 (most indicators relate to 2015/16)",
        "geography": "Lower layer super output areas 2011 (32,844 in England; 4,835 in London)",
        "official_url": "https://www.gov.uk/government/statistics/"
                        "english-indices-of-deprivation-2019",
        "raw_folder": "indicators/mhclg-imd-2019",
        "used_for": "Share of residents in the most deprived neighbourhoods of England and of "
                    "London; average deprivation decile, by 2022 ward",
        "method_notes": "Each LSOA 2011 is weighted by its mid-2020 population and assigned to "
                        "one 2022 ward with the GLA best-fit lookup.",
    },
    {
        "dataset_id": "ons-lsoa-pop-mid2020",
        "title": "Lower layer super output area population estimates, mid-2020",
        "publisher": "Office for National Statistics",
        "licence": OGL3,
        "attribution": ONS_ATTRIBUTION.format(year=2021),
        "period": "30 June 2020",
        "geography": "Lower layer super output areas 2011 (4,835 in London)",
        "official_url": "https://www.ons.gov.uk/peoplepopulationandcommunity/"
                        "populationandmigration/populationestimates/datasets/"
                        "lowersuperoutputareamidyearpopulationestimates",
        "raw_folder": "indicators/ons-mid2020-lsoa-population",
        "used_for": "Population weights for the deprivation indicators",
        "method_notes": "All-ages persons only.",
    },
    {
        "dataset_id": "mps-ward-crime",
        "title": "MPS Recorded Crime: Geographic Breakdown (ward level, last 24 months)",
        "publisher": "Metropolitan Police Service (London Datastore)",
        "licence": OGL3,
        "attribution": PSI_ATTRIBUTION + " Metropolitan Police Service.",
        "period": "April 2024 to March 2026 (monthly)",
        "geography": "2022 wards policed by the Metropolitan Police (679; the City of London "
                     "is policed by the City of London Police)",
        "official_url": "https://data.london.gov.uk/dataset/recorded_crime_summary",
        "raw_folder": "indicators/met-police-ward-crime",
        "used_for": "Crime per 1,000 residents by major category, monthly and over the latest "
                    "12 months",
        "method_notes": "Offences summed over minor categories; a month with almost no records "
                        "(an incomplete extract) is left out. Rates use Census 2021 usual "
                        "residents of the ward; borough and London rates are summed offences over "
                        "summed residents of the Met wards.",
    },
    {
        "dataset_id": "laei-2019",
        "title": "London Atmospheric Emissions Inventory (LAEI) 2019: modelled concentrations",
        "publisher": "Greater London Authority and Transport for London (London Datastore)",
        "licence": "OGL v2.0",
        "attribution": GLA_ATTRIBUTION.format(year=2022),
        "period": "2019 annual mean",
        "geography": "LSOA 2021 averages of the 20 m concentration grid (4,994 in London)",
        "official_url": "https://data.london.gov.uk/dataset/"
                        "london-atmospheric-emissions-inventory--laei--2019",
        "raw_folder": "indicators/laei-2019-air-quality",
        "used_for": "Nitrogen dioxide and fine particulate (PM2.5) concentration by 2022 ward",
        "method_notes": "Mean concentration of each LSOA, averaged to wards, boroughs and London "
                        "weighted by Census 2021 usual residents of each LSOA.",
    },
    {
        "dataset_id": "evci-lsoa-2011-2024",
        "title": "Public charge devices and licensed plug-in vehicles by LSOA, 2011 to 2024",
        "publisher": "Department for Transport and Office for Zero Emission Vehicles (compiled "
                     "by F. D. Lopane, EVCI-accessibility)",
        "licence": OGL3,
        "attribution": PSI_ATTRIBUTION + " Compiled by F. D. Lopane (EVCI-accessibility).",
        "period": "Devices 2012 to 2024 (yearly); vehicles 2011 Q4 to 2024 Q2 (quarterly)",
        "geography": "Lower layer super output areas 2021 (4,985 in London)",
        "official_url": "https://www.gov.uk/government/statistical-data-sets/"
                        "vehicle-licensing-statistics-data-tables",
        "raw_folder": "ev/lsoa-chargepoints-and-plugin-vehicles-2011-2024",
        "used_for": "Public charge devices and plug-in vehicles over time by 2022 ward; vehicles "
                    "per device; devices per 100,000 residents",
        "method_notes": "Devices are counted from the National Chargepoint Registry by date "
                        "created (https://www.gov.uk/guidance/"
                        "find-and-use-data-on-public-electric-vehicle-chargepoints); vehicles "
                        "are DfT table VEH0145, where small counts are suppressed and coded 2.5 "
                        "in this file (kept as published). Summed from LSOAs to 2022 wards with "
                        "the GLA best-fit lookup.",
    },
    {
        "dataset_id": "gla-ward-profiles-2015",
        "title": "Ward Profiles and Atlas (2015 edition)",
        "publisher": "Greater London Authority (London Datastore)",
        "licence": OGL3,
        "attribution": GLA_ATTRIBUTION.format(year=2015),
        "period": "2009 to 2015 (each indicator has its own period)",
        "geography": "2011 wards (625, the City of London as one), 33 boroughs, London",
        "official_url": "https://data.london.gov.uk/dataset/ward-profiles-and-atlas",
        "raw_folder": "indicators/gla-ward-profiles-2015",
        "used_for": "All 64 indicators of the 2011 ward layer",
        "method_notes": "Values as published. Borough and London figures are the file's own "
                        "borough and London rows, not recomputed.",
    },
    {
        "dataset_id": "gla-ward22-bestfit",
        "title": "Best-fit lookups from output areas and LSOAs (2011 and 2021) to 2022 wards, "
                 "London",
        "publisher": "Greater London Authority (small area back series)",
        "licence": OGL3,
        "attribution": GLA_ATTRIBUTION.format(year=2023),
        "period": "Ward boundaries of May 2022",
        "geography": "OA 2021 (26,368), LSOA 2021 (4,994), LSOA 2011 (4,835) to 2022 wards",
        "official_url": "https://github.com/Greater-London-Authority/small_area_backseries",
        "raw_folder": "lookups/gla-ward22-bestfit",
        "used_for": "Building 2022 ward figures from output areas and LSOAs",
        "method_notes": "Each small area is given wholly to the ward that contains most of it. "
                        "Small areas in any of the 25 City of London wards are given to the City "
                        "as one unit (E09000001).",
    },
    {
        "dataset_id": "ons-ward-lad-2023",
        "title": "Ward to Local Authority District (December 2023) Lookup in the United Kingdom",
        "publisher": "Office for National Statistics (Open Geography Portal)",
        "licence": OGL3,
        "attribution": ONS_ATTRIBUTION.format(year=2023),
        "period": "December 2023 (London ward codes unchanged since December 2022)",
        "geography": "704 London wards to 33 boroughs",
        "official_url": "https://geoportal.statistics.gov.uk/search?q=LUP_WD_LAD%20DEC_2023",
        "raw_folder": "lookups/ons",
        "used_for": "The borough of each 2022 ward, to build borough figures from ward counts",
        "method_notes": "London rows only (LAD codes starting E09).",
    },
)


# Catalogue entries -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One catalogue row, less the fields derived when the step runs (licence, default period)."""

    indicator_id: str
    title: str
    theme: str
    unit: str
    polarity: int
    definition: str
    source: str
    period_label: str
    layer: str
    method: str
    kind: str
    decimals: int


def _census(indicator_id: str, title: str, theme: str, unit: str, polarity: int,
            definition: str, decimals: int = 1, source: str = "census2021-oa") -> Entry:
    return Entry(indicator_id, title, theme, unit, polarity, definition, source, CENSUS_DAY,
                 "ward2022", "apportioned", "snapshot", decimals)


_BEST_FIT = (" Built up from output areas to 2022 wards by best fit; borough and London figures "
             "are recomputed from the summed counts.")
_BEST_FIT_LSOA = (" Built up from LSOAs to 2022 wards by best fit; borough and London figures "
                  "are recomputed from the summed counts.")

CENSUS_ENTRIES: tuple[Entry, ...] = (
    _census("usual_residents", "Usual residents", "People", "count", 0,
            "Number of people usually resident on Census Day 2021." + _BEST_FIT, 0),
    _census("households", "Households", "People", "count", 0,
            "Number of households on Census Day 2021 (from the tenure table)." + _BEST_FIT, 0),
    _census("aged_0_14_pct", "Children aged 0 to 14", "People", "% of residents", 0,
            "Residents aged 0 to 14 as a percentage of all usual residents. The census age bands "
            "put 15-year-olds with ages 15 to 19, so they are not included." + _BEST_FIT_LSOA,
            source="census2021-lsoa"),
    _census("aged_65_plus_pct", "Residents aged 65 and over", "People", "% of residents", 0,
            "Residents aged 65 or over as a percentage of all usual residents." + _BEST_FIT_LSOA,
            source="census2021-lsoa"),
    _census("no_car_households_pct", "Households with no car or van", "Transport and EV",
            "% of households", 0,
            "Households with no car or van as a percentage of all households." + _BEST_FIT),
    _census("bad_health_pct", "Residents in bad or very bad health", "Health and disability",
            "% of residents", -1,
            "Residents who described their general health as bad or very bad, as a percentage "
            "of all usual residents." + _BEST_FIT),
    _census("disabled_pct", "Residents disabled under the Equality Act", "Health and disability",
            "% of residents", 0,
            "Residents whose day-to-day activities are limited a little or a lot by a long-term "
            "condition (disabled under the Equality Act), as a percentage of all usual "
            "residents." + _BEST_FIT),
    _census("social_rented_pct", "Households renting from a council or housing association",
            "Housing", "% of households", 0,
            "Households that rent from the council or another social landlord, as a percentage "
            "of all households." + _BEST_FIT),
    _census("private_rented_pct", "Households renting privately", "Housing", "% of households",
            0, "Households that rent from a private landlord, letting agency or other private "
               "source, as a percentage of all households." + _BEST_FIT),
    _census("deprived_1plus_pct", "Households deprived in at least one dimension", "Deprivation",
            "% of households", -1,
            "Households deprived in one or more of the four census dimensions (employment, "
            "education, health and disability, housing), as a percentage of all households."
            + _BEST_FIT),
    _census("deprived_2plus_pct", "Households deprived in two or more dimensions", "Deprivation",
            "% of households", -1,
            "Households deprived in two or more of the four census dimensions (employment, "
            "education, health and disability, housing), as a percentage of all households."
            + _BEST_FIT),
    _census("nssec_higher_pct", "Residents in higher managerial and professional occupations",
            "Work and income", "% of residents aged 16+", 0,
            "Residents aged 16 and over in socio-economic classes L1 to L3 (higher managerial, "
            "administrative and professional), as a percentage of all residents aged 16 and "
            "over." + _BEST_FIT),
    _census("nssec_routine_pct", "Residents in routine and semi-routine occupations",
            "Work and income", "% of residents aged 16+", 0,
            "Residents aged 16 and over in socio-economic classes L12 and L13 (semi-routine and "
            "routine occupations), as a percentage of all residents aged 16 and over." + _BEST_FIT),
    _census("nssec_never_worked_pct", "Residents who have never worked or are long-term "
            "unemployed", "Work and income", "% of residents aged 16+", -1,
            "Residents aged 16 and over who have never worked or are long-term unemployed "
            "(socio-economic class L14), as a percentage of all residents aged 16 and over."
            + _BEST_FIT),
)

_IMD_METHOD = (" Each LSOA (2011) counts with its mid-2020 population and is given to one 2022 "
               "ward by best fit; borough and London figures are recomputed from the summed "
               "populations.")


def _imd(indicator_id: str, title: str, unit: str, polarity: int, definition: str) -> Entry:
    return Entry(indicator_id, title, "Deprivation", unit, polarity, definition + _IMD_METHOD,
                 "imd2019", "Index of Multiple Deprivation 2019", "ward2022", "apportioned",
                 "snapshot", 1)


IMD_ENTRIES: tuple[Entry, ...] = (
    _imd("imd_england_20pct_pct", "Residents in England's most deprived 20% of neighbourhoods",
         "% of residents", -1,
         "Residents living in LSOAs in deciles 1 and 2 of the Index of Multiple Deprivation 2019 "
         "(the most deprived 20% in England), as a percentage of all residents (mid-2020 "
         "estimates)."),
    _imd("imd_london_20pct_pct", "Residents in London's most deprived 20% of neighbourhoods",
         "% of residents", -1,
         "Residents living in the 967 most deprived of London's 4,835 LSOAs by Index of Multiple "
         "Deprivation 2019 rank, as a percentage of all residents (mid-2020 estimates)."),
    _imd("imd_mean_decile", "Average deprivation decile", "decile (1 = most deprived)", 1,
         "Average Index of Multiple Deprivation 2019 decile of the ward's LSOAs (1 = most "
         "deprived 10% in England, 10 = least deprived), weighted by mid-2020 population."),
)

_AIR_METHOD = (" Modelled annual mean across each LSOA (2021), averaged to wards, boroughs and "
               "London weighted by the Census 2021 usual residents of each LSOA, so it is the "
               "concentration the average resident lives in.")

AIR_ENTRIES: tuple[Entry, ...] = (
    Entry("no2_mean", "Nitrogen dioxide (NO2)", "Environment", "µg/m³", -1,
          "Annual mean nitrogen dioxide concentration in 2019." + _AIR_METHOD, "laei-2019",
          "2019 annual mean (modelled)", "ward2022", "apportioned", "snapshot", 1),
    Entry("pm25_mean", "Fine particulate matter (PM2.5)", "Environment", "µg/m³", -1,
          "Annual mean concentration of fine particles (PM2.5) in 2019." + _AIR_METHOD,
          "laei-2019", "2019 annual mean (modelled)", "ward2022", "apportioned", "snapshot", 1),
)

_EV_METHOD = " Summed from LSOAs (2021) to 2022 wards by best fit, then to boroughs and London."
_SUPPRESSED = (" Small counts are suppressed by DfT and appear as 2.5 in the source; they are "
               "kept as published, so totals can end in .5.")

EV_ENTRIES: tuple[Entry, ...] = (
    Entry("ev_public_devices", "Public charge devices", "Transport and EV", "count", 1,
          "Public charge devices in the National Chargepoint Registry created by the end of each "
          "year (cumulative)." + _EV_METHOD, "evci-lsoa-2011-2024",
          "Each year, 2012 to 2024 (2014 and 2016 not available)", "ward2022", "apportioned",
          "series", 0),
    Entry("ev_plugin_vehicles", "Licensed plug-in vehicles", "Transport and EV", "count", 0,
          "Licensed plug-in (battery electric and plug-in hybrid) vehicles registered to "
          "addresses in the area at the end of each quarter." + _SUPPRESSED + _EV_METHOD,
          "evci-lsoa-2011-2024", "Quarter ends, 2011 Q4 to 2024 Q2", "ward2022", "apportioned",
          "series", 0),
    Entry("ev_vehicles_per_device", "Plug-in vehicles per public charge device",
          "Transport and EV", "vehicles per device", -1,
          "Licensed plug-in vehicles at the end of the year (2024: end of June) divided by public "
          "charge devices at the end of the year; not shown where there are no devices. "
          "Vehicle counts include suppressed small counts coded 2.5." + _EV_METHOD,
          "evci-lsoa-2011-2024", "Each year, 2012 to 2024 (2014 and 2016 not available)",
          "ward2022", "apportioned", "series", 1),
    Entry("ev_devices_per_100k", "Public charge devices per 100,000 residents",
          "Transport and EV", "per 100,000 residents", 1,
          "Public charge devices in 2024 per 100,000 usual residents of the area (Census "
          "2021, built from output areas)." + _EV_METHOD, "evci-lsoa-2011-2024", "Devices 2024; residents March 2021",
          "ward2022", "apportioned", "snapshot", 1),
)

# MPS major categories (MajorText) -> (id fragment, title).
CRIME_CATEGORIES: dict[str, tuple[str, str]] = {
    "ARSON AND CRIMINAL DAMAGE": ("arson_damage", "Arson and criminal damage"),
    "BURGLARY": ("burglary", "Burglary"),
    "DRUG OFFENCES": ("drugs", "Drug offences"),
    "FRAUD AND FORGERY": ("fraud_forgery", "Fraud and forgery"),
    "MISCELLANEOUS CRIMES AGAINST SOCIETY": ("misc_society", "Miscellaneous crimes against "
                                                             "society"),
    "NFIB FRAUD": ("nfib_fraud", "Fraud reported to Action Fraud (NFIB)"),
    "POSSESSION OF WEAPONS": ("weapons", "Possession of weapons"),
    "PUBLIC ORDER OFFENCES": ("public_order", "Public order offences"),
    "ROBBERY": ("robbery", "Robbery"),
    "SEXUAL OFFENCES": ("sexual", "Sexual offences"),
    "THEFT": ("theft", "Theft"),
    "VEHICLE OFFENCES": ("vehicle", "Vehicle offences"),
    "VIOLENCE AGAINST THE PERSON": ("violence", "Violence against the person"),
}
CRIME_ALL = ("all", "All crime")
CRIME_PERIOD_LABELS = {"monthly": "Monthly, April 2024 to March 2026",
                       "12m": "12 months, April 2025 to March 2026"}


def crime_id(fragment: str, span: str) -> str:
    """Indicator id of a crime rate: ``span`` is "monthly" or "12m"."""
    return f"crime_{fragment}_{span}"


def _crime_entries() -> tuple[Entry, ...]:
    entries = []
    for fragment, title in [CRIME_ALL, *sorted(CRIME_CATEGORIES.values())]:
        what = "all offences" if fragment == "all" else f"offences of {title.lower()}"
        for span, kind, decimals in (("monthly", "series", 2), ("12m", "snapshot", 1)):
            counted = "in the month" if span == "monthly" else "over the latest 12 months"
            entries.append(Entry(
                crime_id(fragment, span),
                f"{title}: rate per 1,000 residents" + (" (12 months)" if span == "12m" else ""),
                "Crime", "per 1,000 residents", -1,
                f"Metropolitan Police recorded {what} {counted}, per 1,000 usual residents "
                "(Census 2021) of the ward. Borough and London rates are total offences over "
                "total residents of the Metropolitan Police wards; the City of London is policed "
                "separately and has no figure.",
                "mps-ward-crime", CRIME_PERIOD_LABELS[span], "ward2022", "native", kind,
                decimals))
    return tuple(entries)


CRIME_ENTRIES = _crime_entries()


# GLA Ward Profiles 2015 --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileColumn:
    """How one column of the GLA ward profiles file becomes an indicator."""

    header: str
    indicator_id: str
    title: str
    theme: str
    unit: str
    polarity: int
    decimals: int
    definition: str
    period_label: str = ""  # empty: the period itself
    period: str = ""  # empty: parsed from the header


_PROFILE = "GLA ward profiles 2015"
PROFILE_COLUMNS: tuple[ProfileColumn, ...] = (
    ProfileColumn("Population - 2015", "wp_population", "Population", "People", "count", 0, 0,
                  "Residents in 2015, from the GLA's ward population projections.",
                  "2015 (GLA projection)"),
    ProfileColumn("Children aged 0-15 - 2015", "wp_children", "Children aged 0 to 15",
                  "People", "count", 0, 0, "Residents aged 0 to 15 in 2015 (GLA projection).",
                  "2015 (GLA projection)"),
    ProfileColumn("Working-age (16-64) - 2015", "wp_working_age", "Working-age residents (16 to "
                  "64)", "People", "count", 0, 0,
                  "Residents aged 16 to 64 in 2015 (GLA projection).", "2015 (GLA projection)"),
    ProfileColumn("Older people aged 65+ - 2015", "wp_older_people", "Older people aged 65 and "
                  "over", "People", "count", 0, 0,
                  "Residents aged 65 or over in 2015 (GLA projection).", "2015 (GLA projection)"),
    ProfileColumn("% All Children aged 0-15 - 2015", "wp_children_pct", "Children aged 0 to 15",
                  "People", "% of residents", 0, 1,
                  "Residents aged 0 to 15 as a percentage of all residents, 2015 (GLA "
                  "projection).", "2015 (GLA projection)"),
    ProfileColumn("% All Working-age (16-64) - 2015", "wp_working_age_pct", "Working-age "
                  "residents (16 to 64)", "People", "% of residents", 0, 1,
                  "Residents aged 16 to 64 as a percentage of all residents, 2015 (GLA "
                  "projection).", "2015 (GLA projection)"),
    ProfileColumn("% All Older people aged 65+ - 2015", "wp_older_people_pct", "Older people "
                  "aged 65 and over", "People", "% of residents", 0, 1,
                  "Residents aged 65 or over as a percentage of all residents, 2015 (GLA "
                  "projection).", "2015 (GLA projection)"),
    ProfileColumn("Mean Age - 2013", "wp_mean_age", "Average (mean) age", "People", "years", 0, 1,
                  "Mean age of residents in mid-2013 (ONS small area estimates).", "Mid-2013"),
    ProfileColumn("Median Age - 2013", "wp_median_age", "Median age", "People", "years", 0, 1,
                  "Age that splits residents into two equal halves, mid-2013 (ONS small area "
                  "estimates).", "Mid-2013"),
    ProfileColumn("Area - Square Kilometres", "wp_area_km2", "Area", "People", "km²", 0, 1,
                  "Area of the ward in square kilometres.", "2011 ward boundaries", "2011"),
    ProfileColumn("Population density (persons per sq km) - 2013", "wp_density",
                  "Population density", "People", "residents per km²", 0, 0,
                  "Residents (mid-2013 estimate) per square kilometre.", "Mid-2013"),
    ProfileColumn("% BAME - 2011", "wp_bame_pct", "Black, Asian and minority ethnic residents",
                  "People", "% of residents", 0, 1,
                  "Residents in any ethnic group other than White, as a percentage of all "
                  "usual residents.", CENSUS_2011),
    ProfileColumn("% Not Born in UK - 2011", "wp_born_abroad_pct", "Residents born outside the "
                  "UK", "People", "% of residents", 0, 1,
                  "Residents born outside the United Kingdom, as a percentage of all usual "
                  "residents.", CENSUS_2011),
    ProfileColumn("% English is First Language of no one in household - 2011",
                  "wp_no_english_household_pct", "Households where no one has English as a main "
                  "language", "People", "% of households", 0, 1,
                  "Households in which no adult has English as a main language, as a percentage "
                  "of all households.", CENSUS_2011),
    ProfileColumn("General Fertility Rate - 2013", "wp_fertility_rate", "General fertility rate",
                  "People", "births per 1,000 women aged 15 to 44", 0, 1,
                  "Live births in 2013 per 1,000 women aged 15 to 44.", "2013"),
    ProfileColumn("Male life expectancy -2009-13", "wp_life_expectancy_male",
                  "Male life expectancy at birth", "Health and disability", "years", 1, 1,
                  "Average years a newborn boy would live at the death rates of 2009 to 2013.",
                  "2009 to 2013 (five years pooled)"),
    ProfileColumn("Female life expectancy -2009-13", "wp_life_expectancy_female",
                  "Female life expectancy at birth", "Health and disability", "years", 1, 1,
                  "Average years a newborn girl would live at the death rates of 2009 to 2013.",
                  "2009 to 2013 (five years pooled)"),
    ProfileColumn("% children in reception year who are obese - 2011/12 to 2013/14",
                  "wp_obese_reception_pct", "Reception-year children who are obese",
                  "Health and disability", "% of children measured", -1, 1,
                  "Children in reception year (age 4 to 5) measured as obese, as a percentage of "
                  "those measured (National Child Measurement Programme).",
                  "School years 2011/12 to 2013/14 (pooled)"),
    ProfileColumn("% children in year 6 who are obese- 2011/12 to 2013/14", "wp_obese_year6_pct",
                  "Year 6 children who are obese", "Health and disability",
                  "% of children measured", -1, 1,
                  "Children in year 6 (age 10 to 11) measured as obese, as a percentage of those "
                  "measured (National Child Measurement Programme).",
                  "School years 2011/12 to 2013/14 (pooled)"),
    ProfileColumn("Rate of All Ambulance Incidents per 1,000 population - 2014",
                  "wp_ambulance_rate", "Ambulance incidents", "Health and disability",
                  "per 1,000 residents", -1, 1,
                  "London Ambulance Service incidents in 2014 per 1,000 residents.", "2014"),
    ProfileColumn("Rates of ambulance call outs for alcohol related illness - 2014",
                  "wp_ambulance_alcohol_rate", "Ambulance call-outs for alcohol-related illness",
                  "Health and disability", "per 1,000 residents", -1, 1,
                  "London Ambulance Service call-outs for alcohol-related illness in 2014 per "
                  "1,000 residents.", "2014"),
    ProfileColumn("Number Killed or Seriously Injured on the roads - 2014", "wp_road_ksi",
                  "People killed or seriously injured on the roads", "Transport and EV", "count",
                  -1, 0, "Road casualties killed or seriously injured in 2014.", "2014"),
    ProfileColumn("In employment (16-64) - 2011", "wp_in_employment", "Residents in employment "
                  "(16 to 64)", "Work and income", "count", 0, 0,
                  "Residents aged 16 to 64 in employment.", CENSUS_2011),
    ProfileColumn("Employment rate (16-64) - 2011", "wp_employment_rate", "Employment rate (16 to "
                  "64)", "Work and income", "% of residents aged 16 to 64", 1, 1,
                  "Residents aged 16 to 64 in employment, as a percentage of all residents aged "
                  "16 to 64.", CENSUS_2011),
    ProfileColumn("Number of jobs in area - 2013", "wp_jobs", "Jobs in the ward",
                  "Work and income", "count", 0, 0,
                  "Jobs located in the ward in 2013 (employee jobs and self-employment).", "2013"),
    ProfileColumn("Employment per head of resident WA population - 2013",
                  "wp_jobs_per_working_age", "Jobs per working-age resident", "Work and income",
                  "jobs per resident aged 16 to 64", 0, 2,
                  "Jobs located in the ward in 2013 divided by its residents aged 16 to 64.",
                  "2013"),
    ProfileColumn("Rate of new registrations of migrant workers - 2011/12",
                  "wp_migrant_registrations_rate", "New National Insurance registrations of "
                  "overseas nationals", "Work and income",
                  "per 1,000 residents aged 16 to 64", 0, 1,
                  "National Insurance numbers newly issued to overseas nationals in 2011/12, per "
                  "1,000 residents of working age.", "Financial year 2011/12"),
    ProfileColumn("Median House Price (£) - 2014", "wp_median_house_price",
                  "Median house price", "Housing", "£", 0, 0,
                  "Middle price of homes sold in 2014 (Land Registry).", "2014"),
    ProfileColumn("Number of properties sold - 2014", "wp_properties_sold", "Homes sold",
                  "Housing", "count", 0, 0, "Residential property sales in 2014 (Land Registry).",
                  "2014"),
    ProfileColumn("Median Household income estimate (2012/13)", "wp_median_household_income",
                  "Median household income (estimate)", "Work and income", "£", 1, 0,
                  "Modelled middle annual household income in 2012/13 (GLA estimate).",
                  "Financial year 2012/13"),
    ProfileColumn("Number of Household spaces - 2011", "wp_household_spaces", "Household spaces",
                  "Housing", "count", 0, 0,
                  "Household spaces (occupied or not), Census 2011.", CENSUS_2011),
    ProfileColumn("% detached houses - 2011", "wp_detached_pct", "Detached houses", "Housing",
                  "% of household spaces", 0, 1,
                  "Household spaces in detached houses, as a percentage of all household spaces.",
                  CENSUS_2011),
    ProfileColumn("% semi-detached houses - 2011", "wp_semi_detached_pct",
                  "Semi-detached houses", "Housing", "% of household spaces", 0, 1,
                  "Household spaces in semi-detached houses, as a percentage of all household "
                  "spaces.", CENSUS_2011),
    ProfileColumn("% terraced houses - 2011", "wp_terraced_pct", "Terraced houses", "Housing",
                  "% of household spaces", 0, 1,
                  "Household spaces in terraced houses, as a percentage of all household spaces.",
                  CENSUS_2011),
    ProfileColumn("% Flat, maisonette or apartment - 2011", "wp_flats_pct",
                  "Flats, maisonettes and apartments", "Housing", "% of household spaces", 0, 1,
                  "Household spaces in flats, maisonettes or apartments, as a percentage of all "
                  "household spaces.", CENSUS_2011),
    ProfileColumn("% Households Owned - 2011", "wp_owned_pct", "Owner-occupied households",
                  "Housing", "% of households", 0, 1,
                  "Households that own their home outright or with a mortgage, as a percentage "
                  "of all households.", CENSUS_2011),
    ProfileColumn("% Households Social Rented - 2011", "wp_social_rented_pct",
                  "Households renting from a council or housing association", "Housing",
                  "% of households", 0, 1,
                  "Households renting from a council or other social landlord, as a percentage "
                  "of all households.", CENSUS_2011),
    ProfileColumn("% Households Private Rented - 2011", "wp_private_rented_pct",
                  "Households renting privately", "Housing", "% of households", 0, 1,
                  "Households renting from a private landlord or letting agency, as a percentage "
                  "of all households.", CENSUS_2011),
    ProfileColumn("% dwellings in council tax bands A or B - 2015", "wp_council_tax_ab_pct",
                  "Homes in council tax bands A or B", "Housing", "% of dwellings", 0, 1,
                  "Dwellings in council tax bands A or B, as a percentage of all dwellings "
                  "(Valuation Office Agency).", "2015"),
    ProfileColumn("% dwellings in council tax bands C, D or E - 2015", "wp_council_tax_cde_pct",
                  "Homes in council tax bands C, D or E", "Housing", "% of dwellings", 0, 1,
                  "Dwellings in council tax bands C, D or E, as a percentage of all dwellings "
                  "(Valuation Office Agency).", "2015"),
    ProfileColumn("% dwellings in council tax bands F, G or H - 2015", "wp_council_tax_fgh_pct",
                  "Homes in council tax bands F, G or H", "Housing", "% of dwellings", 0, 1,
                  "Dwellings in council tax bands F, G or H, as a percentage of all dwellings "
                  "(Valuation Office Agency).", "2015"),
    ProfileColumn("Claimant rate of key out-of-work benefits (working age client group) (2014)",
                  "wp_out_of_work_benefits_pct", "Out-of-work benefit claimants",
                  "Work and income", "% of residents aged 16 to 64", -1, 1,
                  "Working-age residents claiming key out-of-work benefits, as a percentage of "
                  "all residents aged 16 to 64 (DWP).", "2014"),
    ProfileColumn("Claimant Rate of Housing Benefit (2015)", "wp_housing_benefit_pct",
                  "Housing Benefit claimants", "Housing", "% of households", -1, 1,
                  "Housing Benefit claimants as a percentage of households (DWP), as published "
                  "by the GLA.", "2015"),
    ProfileColumn("Claimant Rate of Employment Support Allowance - 2014", "wp_esa_pct",
                  "Employment and Support Allowance claimants", "Work and income",
                  "% of residents aged 16 to 64", -1, 1,
                  "Residents claiming Employment and Support Allowance (a benefit for people "
                  "unable to work through illness or disability), as a percentage of residents "
                  "aged 16 to 64 (DWP).", "2014"),
    ProfileColumn("Rate of JobSeekers Allowance (JSA) Claimants - 2015", "wp_jsa_pct",
                  "Jobseeker's Allowance claimants", "Work and income",
                  "% of residents aged 16 to 64", -1, 1,
                  "Residents claiming Jobseeker's Allowance, as a percentage of residents aged 16 "
                  "to 64 (DWP).", "2015"),
    ProfileColumn("% dependent children (0-18) in out-of-work households - 2014",
                  "wp_children_out_of_work_pct", "Children in out-of-work households",
                  "Deprivation", "% of dependent children", -1, 1,
                  "Dependent children (aged 0 to 18) in households where no one works and someone "
                  "claims an out-of-work benefit, as a percentage of all dependent children "
                  "(DWP and HMRC).", "2014"),
    ProfileColumn("% of households with no adults in employment with dependent children - 2011",
                  "wp_workless_households_children_pct", "Households with children and no "
                  "adult in work", "Deprivation", "% of households", -1, 1,
                  "Households with dependent children where no adult is in employment, as a "
                  "percentage of all households.", CENSUS_2011),
    ProfileColumn("% of lone parents not in employment - 2011", "wp_lone_parents_not_working_pct",
                  "Lone parents not in employment", "Work and income", "% of lone parents", -1, 1,
                  "Lone parents of dependent children who are not in employment, as a percentage "
                  "of all such lone parents.", CENSUS_2011),
    ProfileColumn("(ID2010) - Rank of average score (within London) - 2010",
                  "wp_imd2010_london_rank", "Deprivation rank within London (IMD 2010)",
                  "Deprivation", "rank (1 = most deprived)", 1, 0,
                  "Rank of the ward among London's wards by the average Index of Multiple "
                  "Deprivation 2010 score of its LSOAs (1 = most deprived). Borough figures are "
                  "the average of their wards' ranks, as published by the GLA.",
                  "Indices of Deprivation 2010"),
    ProfileColumn("(ID2010) % of LSOAs in worst 50% nationally - 2010",
                  "wp_imd2010_worst_half_pct", "Neighbourhoods in England's most deprived half "
                  "(IMD 2010)", "Deprivation", "% of LSOAs", -1, 1,
                  "LSOAs in the most deprived 50% in England on the Index of Multiple Deprivation "
                  "2010, as a percentage of the ward's LSOAs.", "Indices of Deprivation 2010"),
    ProfileColumn("Average GCSE capped point scores - 2014", "wp_gcse_points",
                  "Average GCSE capped point score", "Education", "points", 1, 1,
                  "Average capped GCSE and equivalent point score (best eight results) of pupils "
                  "living in the area at the end of key stage 4.", "School year 2013/14"),
    ProfileColumn("Unauthorised Absence in All Schools (%) - 2013", "wp_unauthorised_absence_pct",
                  "Unauthorised absence from school", "Education", "% of school sessions", -1, 1,
                  "Half-day school sessions missed through unauthorised absence, as a percentage "
                  "of all possible sessions, for pupils living in the area.", "2013"),
    ProfileColumn("% with no qualifications - 2011", "wp_no_qualifications_pct",
                  "Residents with no qualifications", "Education", "% of residents aged 16+", -1,
                  1, "Residents aged 16 and over with no qualifications, as a percentage of all "
                     "residents aged 16 and over.", CENSUS_2011),
    ProfileColumn("% with Level 4 qualifications and above - 2011", "wp_degree_level_pct",
                  "Residents with degree-level qualifications", "Education",
                  "% of residents aged 16+", 1, 1,
                  "Residents aged 16 and over with a degree or equivalent (level 4 and above), as "
                  "a percentage of all residents aged 16 and over.", CENSUS_2011),
    ProfileColumn("A-Level Average Point Score Per Student - 2013/14", "wp_a_level_per_student",
                  "A-level average point score per student", "Education", "points", 1, 1,
                  "Average A-level and equivalent point score per student living in the area.",
                  "School year 2013/14"),
    ProfileColumn("A-Level Average Point Score Per Entry; 2013/14", "wp_a_level_per_entry",
                  "A-level average point score per exam entry", "Education", "points", 1, 1,
                  "Average A-level and equivalent point score per exam entry of students living "
                  "in the area.", "School year 2013/14"),
    ProfileColumn("Crime rate - 2014/15", "wp_crime_rate", "Crime rate", "Crime",
                  "per 1,000 residents", -1, 1,
                  "Offences recorded by the police in 2014/15 per 1,000 residents.",
                  "Financial year 2014/15"),
    ProfileColumn("Violence against the person rate - 2014/15", "wp_violence_rate",
                  "Violence against the person", "Crime", "per 1,000 residents", -1, 1,
                  "Violence against the person offences recorded in 2014/15 per 1,000 residents.",
                  "Financial year 2014/15"),
    ProfileColumn("Deliberate Fires per 1,000 population - 2014", "wp_deliberate_fires_rate",
                  "Deliberate fires", "Crime", "per 1,000 residents", -1, 1,
                  "Deliberate fires attended by the London Fire Brigade in 2014 per 1,000 "
                  "residents.", "2014"),
    ProfileColumn("% area that is open space - 2014", "wp_open_space_pct", "Open space",
                  "Environment", "% of area", 1, 1,
                  "Share of the ward's area that is public or private open space (GiGL).",
                  "2014"),
    ProfileColumn("Cars per household - 2011", "wp_cars_per_household", "Cars per household",
                  "Transport and EV", "cars or vans per household", 0, 2,
                  "Cars or vans available to households, divided by the number of households.",
                  CENSUS_2011),
    ProfileColumn("Average Public Transport Accessibility score - 2014", "wp_ptal_score",
                  "Public transport access score (PTAL)", "Transport and EV", "score", 1, 1,
                  "Average public transport accessibility level across the ward, on TfL's PTAL "
                  "scale; higher means better access to public transport.", "2014"),
    ProfileColumn("% travel by bicycle to work - 2011", "wp_cycle_to_work_pct",
                  "Residents cycling to work", "Transport and EV", "% of working residents", 1, 1,
                  "Working residents who cycle to work as their main mode, as a percentage of "
                  "working residents.", CENSUS_2011),
    ProfileColumn("Turnout at Mayoral election - 2012", "wp_mayoral_turnout_pct",
                  "Turnout at the 2012 Mayoral election", "Democracy", "% of electors", 1, 1,
                  "Votes cast in the 2012 London Mayoral election, as a percentage of registered "
                  "electors.", "3 May 2012"),
)


def profile_entry(column: ProfileColumn, period: str) -> Entry:
    """The catalogue entry of one ward-profile column, given its period."""
    return Entry(column.indicator_id, column.title, column.theme, column.unit, column.polarity,
                 f"{column.definition} Source: {_PROFILE}; borough and London figures as "
                 "published.", "gla-ward-profiles-2015", column.period_label or period,
                 "ward2011", "native", "snapshot", column.decimals)


WARD2022_ENTRIES: tuple[Entry, ...] = (
    CENSUS_ENTRIES + IMD_ENTRIES + AIR_ENTRIES + EV_ENTRIES + CRIME_ENTRIES
)
