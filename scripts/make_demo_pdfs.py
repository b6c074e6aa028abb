#!/usr/bin/env python3
"""Generate the two PDF documents of the demo hotel knowledge base.

Writes examples/demo-hotel/wellness/spa-brochure.pdf and
examples/demo-hotel/services/meeting-rooms.pdf. Reads nothing.

Requires fpdf2 (pip install fpdf2). Only the built-in core fonts are used,
so all text must be Latin-1 (write "EUR", plain hyphens and quotes).

Usage: python3 scripts/make_demo_pdfs.py
"""

from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo-hotel"
FIXED_DATE = datetime(2025, 1, 15, 9, 0, 0, tzinfo=timezone.utc)

NAVY = (15, 59, 87)
BLACK = (29, 43, 54)


class Doc(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.doc_title = title
        self.set_title(title)
        self.set_author("Harbour View Hotel")
        self.set_creator("scripts/make_demo_pdfs.py")
        self.set_creation_date(FIXED_DATE)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self):
        self.set_y(-13)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 120, 130)
        self.cell(0, 6, f"Harbour View Hotel, 14 Quay Street, Port Alden  |  +353 41 555 2100  |  Page {self.page_no()}",
                  align="C")

    # --- building blocks -------------------------------------------------
    def title_block(self, title: str, subtitle: str):
        self.set_text_color(*NAVY)
        self.set_font("Helvetica", "B", 22)
        self.multi_cell(0, 10, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "I", 12)
        self.multi_cell(0, 7, subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def h2(self, text: str):
        self.ln(3)
        self.set_text_color(*NAVY)
        self.set_font("Helvetica", "B", 15)
        self.multi_cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def h3(self, text: str):
        self.ln(1)
        self.set_text_color(*BLACK)
        self.set_font("Helvetica", "B", 12)
        self.multi_cell(0, 6.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(self, text: str):
        self.set_text_color(*BLACK)
        self.set_font("Helvetica", "", 10.5)
        self.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def bullets(self, items):
        self.set_text_color(*BLACK)
        self.set_font("Helvetica", "", 10.5)
        for item in items:
            self.set_x(self.l_margin + 3)
            self.multi_cell(0, 5.5, "- " + item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def table(self, header, rows, widths):
        self.set_text_color(*BLACK)
        self.set_draw_color(199, 211, 219)
        self.set_font("Helvetica", "B", 10)
        self.set_fill_color(232, 238, 242)
        for text, w in zip(header, widths):
            self.cell(w, 7, text, border=1, fill=True)
        self.ln(7)
        self.set_font("Helvetica", "", 10)
        for row in rows:
            for text, w in zip(row, widths):
                self.cell(w, 6.5, text, border=1)
            self.ln(6.5)
        self.ln(3)


def spa_brochure(path: Path):
    pdf = Doc("Tidewater Spa Brochure - Harbour View Hotel")
    pdf.add_page()
    pdf.title_block("Tidewater Spa", "Harbour View Hotel, Port Alden - treatments, thermal suite, pool and gym")

    pdf.para("Tidewater Spa is on the lower ground floor (level -1) of Harbour View Hotel, beside the indoor pool "
             "and the gym. Our therapists use marine skincare made with seaweed from the Port Alden coast and sea "
             "salt from the salt pans at Gull Point. Take any guest lift to level -1 and follow the signs.")

    pdf.h2("Opening hours")
    pdf.bullets([
        "Tidewater Spa: every day 09:00-21:00. The last treatment starts at 20:00.",
        "Thermal suite: every day 09:00-21:00, for guests aged 16 and over.",
        "Indoor pool: every day 07:00-22:00. Heated to 28 °C. Children under 16 until 19:00 with an adult.",
        "Gym: open 24 hours, with your room key card.",
    ])

    pdf.h2("Booking")
    pdf.para("Book at the spa reception on level -1, by calling extension 400 from your room "
             "(+353 41 555 2140 from outside the hotel), or by email to spa@harbourviewhotel.example. "
             "Weekends are busy, so we recommend booking before you arrive. Treatments can be charged to your room.")
    pdf.bullets([
        "Please arrive 15 minutes before your treatment to complete a short health questionnaire.",
        "Late arrival may shorten your treatment; the full price applies.",
        "Cancellations need at least 24 hours' notice. Later cancellations are charged at 50% of the "
        "treatment price, and no-shows are charged in full.",
    ])

    pdf.h2("Treatments and prices")
    pdf.table(
        ["Treatment", "Duration", "Price"],
        [
            ["Tidewater Signature Massage", "60 min", "EUR 95"],
            ["Swedish Massage", "30 / 60 min", "EUR 55 / EUR 85"],
            ["Deep Tissue Massage", "60 min", "EUR 95"],
            ["Hot Stone Massage", "75 min", "EUR 110"],
            ["Pregnancy Massage", "60 min", "EUR 90"],
            ["Couples Massage (for two)", "60 min", "EUR 180"],
            ["Seaweed Body Wrap", "60 min", "EUR 90"],
            ["Sea Salt Scrub", "45 min", "EUR 70"],
            ["Marine Facial", "60 min", "EUR 88"],
            ["Express Facial", "30 min", "EUR 50"],
            ["Teen Facial (ages 12-15)", "45 min", "EUR 45"],
            ["Manicure", "45 min", "EUR 40"],
            ["Pedicure", "50 min", "EUR 48"],
        ],
        [90, 40, 44],
    )
    pdf.para("Our Swedish and pregnancy massages use sweet almond oil. If you have a nut allergy, please tell your "
             "therapist and we will use a nut-free oil instead. The Seaweed Body Wrap is not suitable for guests "
             "with an iodine or shellfish allergy.")

    pdf.h3("Massages")
    pdf.para("The Tidewater Signature Massage is our most popular treatment: a full-body massage with warm "
             "seaweed-infused oil, finished with a scalp massage. The Deep Tissue Massage uses firm pressure and is "
             "ideal after a day of sailing or walking the Alden Cliffs. The Pregnancy Massage is a side-lying massage "
             "for guests from 14 weeks of pregnancy.")
    pdf.h3("Body and face")
    pdf.para("The Marine Facial includes a deep cleanse, exfoliation, an algae mask and a facial massage. The Sea Salt "
             "Scrub uses Port Alden sea salt and citrus oils and leaves skin soft and glowing.")

    pdf.h2("Thermal suite")
    pdf.para("The thermal suite has a Finnish sauna (85 °C), a eucalyptus steam room (45 °C), experience showers, an "
             "ice fountain and a relaxation room with heated loungers. Access costs EUR 15 per person per day for "
             "hotel guests. It is free with any treatment of 60 minutes or more, and for guests staying in Junior "
             "Suites and Harbourmaster Suites. The thermal suite is for guests aged 16 and over.")

    pdf.h2("Spa day pass for visitors")
    pdf.para("Visitors aged 16 and over can buy a spa day pass for EUR 35. It includes the indoor pool, the thermal "
             "suite and the gym between 09:00 and 21:00, with a robe, towels and slippers. Day passes are limited to "
             "12 per day and must be booked in advance.")

    pdf.h2("Spa packages")
    pdf.h3("Harbour Escape - EUR 150 per person (Monday to Thursday EUR 135)")
    pdf.para("A 60-minute Tidewater Signature Massage, an Express Facial and thermal suite access, with a glass of "
             "prosecco in the relaxation room.")
    pdf.h3("Together by the Sea - EUR 235 per couple")
    pdf.para("A Couples Massage followed by afternoon tea for two in The Lantern Bar.")

    pdf.h2("Indoor pool and gym")
    pdf.para("The indoor pool (18 m x 8 m, 1.2 m to 1.5 m deep) is heated to 28 °C all year round and is open from "
             "07:00 to 22:00. Children under 16 may swim until 19:00 with an adult. Pool towels are provided free at "
             "the pool entrance. The gym next door is open 24 hours with your room key and has treadmills, "
             "cross-trainers, bikes, a rowing machine, a multi-station and dumbbells from 2 kg to 30 kg. Personal "
             "training sessions cost EUR 45 for 60 minutes, and weekend yoga (Saturday and Sunday at 08:00) costs EUR 12.")

    pdf.h2("Spa etiquette")
    pdf.bullets([
        "Treatments are for guests aged 16 and over, except the Teen Facial (ages 12-15, with a parent present).",
        "The spa is a quiet area: please switch your phone to silent.",
        "Robes, towels and slippers are provided in the changing rooms.",
        "Please tell us about medical conditions, allergies or pregnancy when you book.",
        "Dogs are not allowed in the spa or pool. Assistance dogs are welcome.",
    ])
    pdf.output(str(path))


def meeting_rooms(path: Path):
    pdf = Doc("Meetings and Events - Harbour View Hotel")
    pdf.add_page()
    pdf.title_block("Meetings and Events", "Harbour View Hotel, Port Alden - meeting rooms, packages and prices")

    pdf.para("Harbour View Hotel has four meeting rooms on the first floor, all with natural daylight, high-speed "
             "Wi-Fi and step-free access from the lifts. Our events team plans conferences, training days, private "
             "dinners, weddings and celebrations for up to 200 guests.")

    pdf.h2("Contact the events team")
    pdf.bullets([
        "Telephone: +353 41 555 2160, or extension 600 from inside the hotel",
        "Email: events@harbourviewhotel.example",
        "Office hours: Monday to Friday 08:30-17:30",
        "Events manager: Grace Lennon",
    ])

    pdf.h2("Room capacities")
    pdf.table(
        ["Room", "Size", "Theatre", "Classroom", "Boardroom", "Banquet", "Reception"],
        [
            ["Lighthouse Room", "180 m²", "160", "90", "-", "120", "200"],
            ["Quay Room", "80 m²", "70", "40", "30", "50", "80"],
            ["Anchor Room", "45 m²", "30", "18", "16", "24", "40"],
            ["Compass Room", "30 m²", "-", "-", "12", "-", "-"],
        ],
        [40, 20, 22, 24, 24, 22, 22],
    )

    pdf.h3("Lighthouse Room")
    pdf.para("Our largest room, with harbour views, a 4 m ceiling and a private terrace. It divides into Lighthouse A "
             "(100 m²) and Lighthouse B (80 m²) with a soundproof partition. Cabaret seating for 84. An induction "
             "loop is permanently installed.")
    pdf.h3("Quay Room")
    pdf.para("A bright room facing Quay Street for workshops, presentations and private lunches. Cabaret seating for 32.")
    pdf.h3("Anchor Room")
    pdf.para("A flexible room for small meetings, interviews and breakout sessions.")
    pdf.h3("Compass Room")
    pdf.para("A boardroom with a fixed table for 12, a 75-inch screen and a video conferencing system.")

    pdf.h2("Room hire")
    pdf.table(
        ["Room", "Full day (08:00-18:00)", "Half day"],
        [
            ["Lighthouse Room", "EUR 1,200", "EUR 750"],
            ["Quay Room", "EUR 550", "EUR 350"],
            ["Anchor Room", "EUR 300", "EUR 190"],
            ["Compass Room", "EUR 250", "EUR 160"],
        ],
        [60, 60, 54],
    )
    pdf.para("Half days are 08:00-13:00 or 13:00-18:00. Evening events can run until 00:00, or until 01:00 on "
             "Fridays and Saturdays by arrangement.")

    pdf.h2("Day delegate packages")
    pdf.bullets([
        "Full day delegate rate: EUR 65 per person - room hire, standard audio-visual equipment, Wi-Fi, water, "
        "morning and afternoon coffee breaks, and a two-course working lunch.",
        "Half day delegate rate: EUR 49 per person - one coffee break and lunch.",
        "24-hour delegate rate: from EUR 245 per person - includes an overnight stay in a Classic room, dinner "
        "and breakfast.",
        "Delegate packages are available for a minimum of 10 delegates.",
    ])

    pdf.h2("Audio-visual equipment")
    pdf.para("Included in room hire: a built-in 86-inch screen or laser projector, HDMI and USB-C connections, a "
             "flipchart, a wireless presenter and Wi-Fi on the HarbourView-Events network (up to 1 Gbps can be "
             "reserved). Available to hire: hybrid conferencing kit with 360-degree camera (EUR 120 per day), wireless "
             "microphones (EUR 35 each per day), PA system for the Lighthouse Room (EUR 150 per day) and an on-site "
             "technician (EUR 45 per hour).")

    pdf.h2("Catering")
    pdf.para("Coffee breaks cost EUR 8.50 per person, with homemade biscuits or pastries and fruit. Working lunches, "
             "canape receptions and private dinners are prepared by the Saltmarsh Kitchen team. All dietary "
             "requirements, including vegan, gluten-free, nut-free, halal and kosher, can be met with 72 hours' notice.")

    pdf.h2("Accommodation and parking")
    pdf.para("Group rates are available for 10 or more bedrooms, under a separate group contract. Delegates can park "
             "in the hotel garage for EUR 22 per night (height limit 2.0 m, 6 EV chargers) or use valet parking for "
             "EUR 32.")

    pdf.h2("Booking terms")
    pdf.bullets([
        "A 25% deposit is required to confirm a meeting room booking.",
        "Final numbers are required 7 days before the event; you are charged for the confirmed numbers after that.",
        "Cancellation more than 60 days before the event: deposit refunded.",
        "Cancellation 30-60 days before the event: the deposit is kept.",
        "Cancellation less than 30 days before the event: 100% of room hire and 50% of catering are charged.",
    ])
    pdf.output(str(path))


def main():
    targets = [
        (DEMO / "wellness" / "spa-brochure.pdf", spa_brochure),
        (DEMO / "services" / "meeting-rooms.pdf", meeting_rooms),
    ]
    for path, build in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        build(path)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
