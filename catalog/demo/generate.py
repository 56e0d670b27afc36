#!/usr/bin/env python3
"""Deterministic demo data for `gerbang serve --demo`.

Writes the CSV files referenced by manifest.json into the directory that holds
this script. Standard library only; every dataset uses its own fixed seed so the
output is byte-identical on every run (and changing one dataset does not shift
the others).

    python3 catalog/demo/generate.py

Conventions: UTF-8, comma-delimited, header row, "\n" line endings, an empty
cell means null, booleans are `true`/`false`, datetimes are ISO 8601 with the
WITA offset `+08:00`.
"""

import csv
import math
import os
import random
from datetime import date, datetime, timedelta, timezone

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
WITA = timezone(timedelta(hours=8))

# ---------------------------------------------------------------------------
# Shared geography: the six kecamatan of Kota Balikpapan and their kelurahan.
# ---------------------------------------------------------------------------

DISTRICTS = {
    "Balikpapan Selatan": {
        "code": "BPS",
        "center": (-1.2650, 116.8870),
        "kelurahan": ["Damai Baru", "Damai Bahagia", "Gunung Bahagia", "Sepinggan",
                      "Sepinggan Baru", "Sepinggan Raya", "Sungai Nangka"],
        "streets": ["Jl. MT Haryono", "Jl. Marsma R. Iswahyudi", "Jl. Syarifuddin Yoes",
                    "Jl. Ruhui Rahayu", "Jl. Sepinggan Baru", "Jl. Jenderal Sudirman",
                    "Jl. Wiluyo Puspoyudo", "Jl. Prona"],
    },
    "Balikpapan Kota": {
        "code": "BPK",
        "center": (-1.2660, 116.8400),
        "kelurahan": ["Klandasan Ilir", "Klandasan Ulu", "Prapatan", "Telaga Sari", "Damai"],
        "streets": ["Jl. Jenderal Sudirman", "Jl. Ahmad Yani", "Jl. Pangeran Antasari",
                    "Jl. Dahor", "Jl. Telaga Sari", "Jl. Sutoyo", "Jl. Klandasan Ulu",
                    "Jl. Pranoto"],
    },
    "Balikpapan Timur": {
        "code": "BPT",
        "center": (-1.2280, 116.9620),
        "kelurahan": ["Manggar", "Manggar Baru", "Lamaru", "Teritip"],
        "streets": ["Jl. Mulawarman", "Jl. Manggar Indah", "Jl. Pantai Lamaru",
                    "Jl. Teritip Raya", "Jl. Batakan", "Jl. Giri Rejo", "Jl. Sumber Sari"],
    },
    "Balikpapan Utara": {
        "code": "BPU",
        "center": (-1.2150, 116.8750),
        "kelurahan": ["Batu Ampar", "Gunung Samarinda", "Gunung Samarinda Baru",
                      "Muara Rapak", "Karang Joang", "Graha Indah"],
        "streets": ["Jl. Soekarno-Hatta", "Jl. Indrakila", "Jl. Strat 2", "Jl. Graha Indah",
                    "Jl. Batu Ampar", "Jl. Karang Joang", "Jl. Gunung Samarinda",
                    "Jl. Mayjend Sutoyo"],
    },
    "Balikpapan Tengah": {
        "code": "BPG",  # teNGah (BPT is taken by Timur)
        "center": (-1.2440, 116.8430),
        "kelurahan": ["Gunung Sari Ilir", "Gunung Sari Ulu", "Mekar Sari", "Karang Rejo",
                      "Sumber Rejo", "Karang Jati"],
        "streets": ["Jl. Ahmad Yani", "Jl. Pandan Sari", "Jl. Karang Jati", "Jl. Mekar Sari",
                    "Jl. Sumber Rejo", "Jl. DI Panjaitan", "Jl. Gunung Sari", "Jl. Inpres"],
    },
    "Balikpapan Barat": {
        "code": "BPB",
        "center": (-1.2270, 116.8150),
        "kelurahan": ["Baru Ilir", "Baru Tengah", "Baru Ulu", "Margo Mulyo", "Marga Sari",
                      "Kariangau"],
        "streets": ["Jl. Letjen Suprapto", "Jl. Kariangau", "Jl. Margo Mulyo",
                    "Jl. Baru Ilir", "Jl. Pupuk Raya", "Jl. Minyak", "Jl. Somber",
                    "Jl. Tanjung Batu"],
    },
}
DISTRICT_NAMES = list(DISTRICTS)
# Rough weight by population / road length, used when picking a district.
DISTRICT_WEIGHTS = [24, 12, 14, 22, 16, 12]


def coords(rng, district, spread=0.012):
    lat0, lon0 = DISTRICTS[district]["center"]
    lat = lat0 + rng.uniform(-spread, spread)
    lon = lon0 + rng.uniform(-spread, spread) * 1.3
    return f"{lat:.6f}", f"{lon:.6f}"


def b(value):
    return "true" if value else "false"


def iso(dt):
    return dt.isoformat(timespec="seconds")


def write_csv(name, header, rows):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        for row in rows:
            assert len(row) == len(header), (name, row)
            w.writerow(["" if v is None else v for v in row])
    print(f"{name}: {len(rows)} rows, {os.path.getsize(path)} bytes")


# ---------------------------------------------------------------------------
# 1. laporan-jalan (Dinas PU): citizen reports, two versions with schema change
# ---------------------------------------------------------------------------

CATEGORIES = ["jalan rusak", "banjir", "drainase", "genangan"]
RAINY_MONTHS = {11, 12, 1, 2, 3, 4, 5}

LANDMARKS = ["masjid", "sekolah dasar", "pasar", "SPBU", "puskesmas", "simpang empat",
             "halte", "kantor kelurahan", "gereja", "jembatan", "minimarket", "pos ronda",
             "lapangan", "perumahan", "bengkel", "apotek", "rumah makan", "gang RT 12",
             "gang RT 05", "kantor pos", "klinik", "taman bermain"]

TEMPLATES = {
    "jalan rusak": {
        "lead": ["Jalan berlubang cukup dalam", "Aspal mengelupas sepanjang sekitar {n} meter",
                 "Permukaan jalan amblas", "Retakan memanjang pada badan jalan",
                 "Lubang besar di tengah jalan", "Jalan bergelombang parah",
                 "Tutup gorong-gorong rusak", "Bahu jalan longsor"],
        "impact": ["membahayakan pengendara motor", "sudah terjadi beberapa kecelakaan",
                   "kendaraan harus melambat", "rawan saat malam karena minim penerangan",
                   "mohon segera diperbaiki", "sudah dua minggu belum ditangani",
                   "lubang tertutup air saat hujan", "truk sering terperosok"],
        "n": (5, 60),
    },
    "banjir": {
        "lead": ["Banjir setinggi {n} cm", "Air meluap setinggi {n} cm",
                 "Banjir setelah hujan deras", "Luapan sungai kecil menggenangi jalan",
                 "Banjir kiriman dari arah hulu"],
        "impact": ["kendaraan tidak bisa lewat", "air masuk ke rumah warga",
                   "arus lalu lintas macet total", "warga lansia butuh evakuasi",
                   "motor banyak yang mogok", "belum surut sejak subuh"],
        "n": (20, 90),
    },
    "drainase": {
        "lead": ["Saluran drainase tersumbat sampah", "Drainase tertutup sedimen",
                 "Dinding saluran jebol", "Tutup saluran drainase hilang",
                 "Parit meluap saat hujan", "Gorong-gorong tersumbat"],
        "impact": ["air meluap ke jalan", "menimbulkan bau tidak sedap",
                   "berbahaya bagi pejalan kaki", "mohon segera dikeruk",
                   "jadi sarang nyamuk", "aliran air tidak jalan"],
        "n": (1, 10),
    },
    "genangan": {
        "lead": ["Genangan air tidak surut lebih dari sehari", "Genangan setinggi mata kaki",
                 "Genangan muncul setiap hujan", "Genangan menutupi lubang jalan",
                 "Air tergenang sepanjang {n} meter"],
        "impact": ["jadi sarang nyamuk", "pengendara terciprat air",
                   "licin untuk sepeda motor", "pejalan kaki harus turun ke badan jalan",
                   "mohon dibuatkan saluran"],
        "n": (10, 80),
    },
}

PRIORITY_WEIGHTS = {  # priority 1 (rendah) .. 5 (darurat)
    "jalan rusak": [15, 30, 30, 17, 8],
    "banjir": [3, 10, 25, 35, 27],
    "drainase": [20, 35, 28, 12, 5],
    "genangan": [30, 35, 22, 10, 3],
}
RESOLVE_SCALE = {5: 1.5, 4: 3.0, 3: 6.0, 2: 10.0, 1: 16.0}
CATEGORY_EFFORT = {"jalan rusak": 1.6, "banjir": 0.5, "drainase": 1.0, "genangan": 0.8}


def description(rng, category, street):
    t = TEMPLATES[category]
    while True:
        lead = rng.choice(t["lead"]).format(n=rng.randint(*t["n"]))
        text = f"{lead} di {street} dekat {rng.choice(LANDMARKS)}, {rng.choice(t['impact'])}"
        if 40 <= len(text) <= 110:
            return text


def report_times(rng, start, end, n):
    days = (end - start).days + 1
    hour_weights = [1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 8, 8, 7, 7, 8, 8, 9, 9, 8, 6, 5, 4, 2, 1]
    out = []
    for _ in range(n):
        d = start + timedelta(days=rng.randrange(days))
        h = rng.choices(range(24), weights=hour_weights)[0]
        out.append(datetime(d.year, d.month, d.day, h, rng.randrange(60), 0, tzinfo=WITA))
    out.sort()
    return out


def make_report(rng, rid, when, snapshot):
    district = rng.choices(DISTRICT_NAMES, weights=DISTRICT_WEIGHTS)[0]
    info = DISTRICTS[district]
    kel = rng.choice(info["kelurahan"])
    street = rng.choice(info["streets"])
    if when.month in RAINY_MONTHS:
        cat_w = [30, 25, 22, 23]
    else:
        cat_w = [50, 10, 25, 15]
    category = rng.choices(CATEGORIES, weights=cat_w)[0]
    priority = rng.choices([1, 2, 3, 4, 5], weights=PRIORITY_WEIGHTS[category])[0]
    lat, lon = coords(rng, district)
    desc = description(rng, category, street)

    # Lifecycle relative to the snapshot date of the release that first shipped the row.
    age = (snapshot - when).total_seconds() / 86400.0
    need = rng.gammavariate(2.0, RESOLVE_SCALE[priority] * CATEGORY_EFFORT[category] / 2.0)
    need = max(0.1, need)
    triage = rng.uniform(0.1, 4.0)  # days until an officer picks the report up
    stuck = rng.random()  # a few reports are never triaged / never finished
    if stuck < 0.04:
        status, resolved = "baru", None
    elif stuck >= 0.10 and triage + need <= age:
        status, resolved = "selesai", round(triage + need, 1)
    elif triage <= age:
        status, resolved = "diproses", None
    else:
        status, resolved = "baru", None
    verified_p = {"selesai": 0.88, "diproses": 0.6, "baru": 0.15}[status]
    verified = rng.random() < verified_p
    return {
        "id": rid, "reported_at": iso(when), "district": district, "kelurahan": kel,
        "category": category, "status": status, "priority": priority,
        "latitude": lat, "longitude": lon, "description": desc,
        "resolved_days": None if resolved is None else f"{resolved:.1f}",
        "verified": b(verified),
    }


def gen_laporan_jalan():
    rng = random.Random(20240305)
    v1_snapshot = datetime(2024, 6, 30, 23, 59, 0, tzinfo=WITA)
    v2_snapshot = datetime(2024, 12, 31, 23, 59, 0, tzinfo=WITA)
    first = report_times(rng, date(2023, 1, 1), date(2024, 6, 30), 600)
    later = report_times(rng, date(2024, 7, 1), date(2024, 12, 31), 200)
    rows = []
    for i, when in enumerate(first, start=1):
        rows.append(make_report(rng, i, when, v1_snapshot))
    for i, when in enumerate(later, start=len(first) + 1):
        rows.append(make_report(rng, i, when, v2_snapshot))

    v1_cols = ["id", "reported_at", "district", "kelurahan", "category", "status",
               "priority", "latitude", "longitude", "description"]
    v2_cols = ["id", "reported_at", "district", "category", "status", "priority",
               "latitude", "longitude", "description", "resolved_days", "verified"]
    write_csv("laporan-jalan-v1.csv", v1_cols, [[r[c] for c in v1_cols] for r in rows[:600]])
    write_csv("laporan-jalan-v2.csv", v2_cols, [[r[c] for c in v2_cols] for r in rows])


# ---------------------------------------------------------------------------
# 2. titik-sampah (DLH): TPS / TPS3R / bank sampah
# ---------------------------------------------------------------------------

BANK_NAMES = ["Melati Bersih", "Mawar Lestari", "Hijau Daun", "Berkah Mandiri", "Sejahtera",
              "Kenanga Asri", "Bina Lingkungan", "Cempaka", "Pelangi", "Harapan Bersama",
              "Teratai", "Sahabat Bumi", "Anggrek", "Guyub Rukun", "Karya Bersih"]
TPS_SPOTS = ["Pasar", "Simpang", "Perumahan", "Gang", "Terminal", "Lapangan", "Masjid",
             "Sekolah", "RT"]
SCHEDULES = ["Setiap hari", "Senin, Rabu, Jumat", "Selasa, Kamis, Sabtu",
             "Senin, Kamis", "Setiap hari, pagi dan sore"]


def gen_titik_sampah():
    rng = random.Random(20240417)
    plan = [("TPS", 96), ("TPS3R", 18), ("Bank Sampah", 36)]
    rows = []
    for jenis, total in plan:
        prefix = {"TPS": "TPS", "TPS3R": "TPS3R", "Bank Sampah": "BSU"}[jenis]
        counters = {d: 0 for d in DISTRICT_NAMES}
        picks = sorted(rng.choices(range(len(DISTRICT_NAMES)), weights=DISTRICT_WEIGHTS, k=total))
        for di in picks:
            district = DISTRICT_NAMES[di]
            info = DISTRICTS[district]
            counters[district] += 1
            kode = f"{prefix}-{info['code']}-{counters[district]:03d}"
            kel = rng.choice(info["kelurahan"])
            street = rng.choice(info["streets"])
            alamat = f"{street} No. {rng.randint(1, 150)}, Kel. {kel}"
            if jenis == "TPS":
                spot = rng.choice(TPS_SPOTS)
                if spot == "RT":
                    nama = f"TPS RT {rng.randint(1, 60):02d} {kel}"
                else:
                    nama = f"TPS {spot} {kel}"
                kapasitas = rng.choice([6.0, 6.0, 8.0, 10.0, 10.0, 14.0, 20.0])
                jadwal = rng.choices(SCHEDULES, weights=[40, 25, 20, 10, 5])[0]
            elif jenis == "TPS3R":
                nama = f"TPS3R {kel} {rng.choice(['Mandiri', 'Berseri', 'Lestari', 'Bersih'])}"
                kapasitas = round(rng.uniform(15, 40), 1)
                jadwal = rng.choice(["Senin, Rabu, Jumat", "Selasa, Kamis, Sabtu", "Setiap hari"])
            else:
                nama = f"Bank Sampah {rng.choice(BANK_NAMES)} {kel}"
                kapasitas = round(rng.uniform(2, 8), 1)
                jadwal = rng.choice(["Sabtu", "Minggu", "Rabu, Sabtu", "Sabtu pertama dan ketiga"])
            aktif = rng.random() < 0.92
            lat, lon = coords(rng, district)
            rows.append([kode, nama, jenis, district, alamat, f"{kapasitas:.1f}",
                         jadwal if aktif else None, lat, lon, b(aktif)])
    header = ["kode", "nama", "jenis", "district", "alamat", "kapasitas_m3", "jadwal_angkut",
              "latitude", "longitude", "aktif"]
    write_csv("titik-sampah.csv", header, rows)


# ---------------------------------------------------------------------------
# 3. realisasi-apbd-2024 (Bappeda): cumulative realisation per programme/quarter
# ---------------------------------------------------------------------------

# (kode_urusan, urusan, opd, program, pagu in millions of rupiah)
PROGRAMS = [
    ("1.01", "Pendidikan", "Dinas Pendidikan dan Kebudayaan",
     "Program Pengelolaan Pendidikan", 412_500),
    ("1.01", "Pendidikan", "Dinas Pendidikan dan Kebudayaan",
     "Program Pendidik dan Tenaga Kependidikan", 38_750),
    ("1.02", "Kesehatan", "Dinas Kesehatan",
     "Program Pemenuhan Upaya Kesehatan Perorangan dan Upaya Kesehatan Masyarakat", 286_400),
    ("1.02", "Kesehatan", "Dinas Kesehatan",
     "Program Peningkatan Kapasitas Sumber Daya Manusia Kesehatan", 9_850),
    ("1.03", "Pekerjaan Umum dan Penataan Ruang", "Dinas Pekerjaan Umum dan Penataan Ruang",
     "Program Penyelenggaraan Jalan", 318_200),
    ("1.03", "Pekerjaan Umum dan Penataan Ruang", "Dinas Pekerjaan Umum dan Penataan Ruang",
     "Program Pengelolaan Sumber Daya Air (SDA)", 142_700),
    ("1.03", "Pekerjaan Umum dan Penataan Ruang", "Dinas Pekerjaan Umum dan Penataan Ruang",
     "Program Pengelolaan dan Pengembangan Sistem Drainase", 96_300),
    ("1.03", "Pekerjaan Umum dan Penataan Ruang", "Dinas Pekerjaan Umum dan Penataan Ruang",
     "Program Penataan Bangunan Gedung", 27_450),
    ("1.04", "Perumahan dan Kawasan Permukiman", "Dinas Perumahan dan Permukiman",
     "Program Kawasan Permukiman", 44_100),
    ("1.04", "Perumahan dan Kawasan Permukiman", "Dinas Perumahan dan Permukiman",
     "Program Peningkatan Prasarana, Sarana dan Utilitas Umum (PSU)", 61_800),
    ("1.05", "Ketenteraman, Ketertiban Umum dan Pelindungan Masyarakat",
     "Satuan Polisi Pamong Praja", "Program Peningkatan Ketenteraman dan Ketertiban Umum", 18_300),
    ("1.05", "Ketenteraman, Ketertiban Umum dan Pelindungan Masyarakat",
     "Badan Penanggulangan Bencana Daerah", "Program Penanggulangan Bencana", 14_650),
    ("1.05", "Ketenteraman, Ketertiban Umum dan Pelindungan Masyarakat",
     "Dinas Pemadam Kebakaran dan Penyelamatan",
     "Program Pencegahan, Penanggulangan, Penyelamatan Kebakaran dan Penyelamatan Non Kebakaran",
     21_900),
    ("1.06", "Sosial", "Dinas Sosial", "Program Rehabilitasi Sosial", 12_400),
    ("1.06", "Sosial", "Dinas Sosial", "Program Perlindungan dan Jaminan Sosial", 8_750),
    ("2.08", "Pemberdayaan Perempuan dan Perlindungan Anak",
     "Dinas Pemberdayaan Perempuan, Perlindungan Anak dan Keluarga Berencana",
     "Program Perlindungan Perempuan", 3_200),
    ("2.11", "Lingkungan Hidup", "Dinas Lingkungan Hidup",
     "Program Pengelolaan Persampahan", 118_600),
    ("2.11", "Lingkungan Hidup", "Dinas Lingkungan Hidup",
     "Program Pengendalian Pencemaran dan/atau Kerusakan Lingkungan Hidup", 7_900),
    ("2.12", "Administrasi Kependudukan dan Pencatatan Sipil",
     "Dinas Kependudukan dan Pencatatan Sipil", "Program Pendaftaran Penduduk", 6_350),
    ("2.15", "Perhubungan", "Dinas Perhubungan",
     "Program Penyelenggaraan Lalu Lintas dan Angkutan Jalan (LLAJ)", 52_800),
    ("2.16", "Komunikasi dan Informatika", "Dinas Komunikasi dan Informatika",
     "Program Aplikasi Informatika", 34_500),
    ("2.16", "Komunikasi dan Informatika", "Dinas Komunikasi dan Informatika",
     "Program Informasi dan Komunikasi Publik", 11_200),
    ("2.17", "Koperasi, Usaha Kecil dan Menengah",
     "Dinas Koperasi, Usaha Mikro, Kecil dan Menengah dan Perindustrian",
     "Program Pemberdayaan Usaha Menengah, Usaha Kecil, dan Usaha Mikro (UMKM)", 5_400),
    ("2.18", "Penanaman Modal", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
     "Program Pelayanan Penanaman Modal", 4_150),
    ("2.19", "Kepemudaan dan Olahraga", "Dinas Pemuda dan Olahraga",
     "Program Pengembangan Kapasitas Daya Saing Keolahragaan", 23_700),
    ("2.23", "Perpustakaan", "Dinas Perpustakaan dan Kearsipan",
     "Program Pembinaan Perpustakaan", 4_800),
    ("3.25", "Kelautan dan Perikanan", "Dinas Pangan, Pertanian dan Perikanan",
     "Program Pengelolaan Perikanan Tangkap", 3_650),
    ("3.26", "Pariwisata", "Dinas Pariwisata",
     "Program Peningkatan Daya Tarik Destinasi Pariwisata", 15_250),
    ("5.01", "Perencanaan", "Badan Perencanaan Pembangunan Daerah",
     "Program Perencanaan, Pengendalian dan Evaluasi Pembangunan Daerah", 9_600),
    ("5.02", "Keuangan", "Badan Pengelolaan Keuangan dan Aset Daerah",
     "Program Pengelolaan Keuangan Daerah", 26_300),
]

QUARTER_REPORT = {1: date(2024, 4, 10), 2: date(2024, 7, 10), 3: date(2024, 10, 10),
                  4: date(2025, 1, 15)}
QUARTER_TARGET = {1: (0.08, 0.22), 2: (0.28, 0.48), 3: (0.52, 0.74), 4: (0.82, 0.995)}


def gen_realisasi_apbd():
    rng = random.Random(20241231)
    rows = []
    for kode, urusan, opd, program, pagu_juta in PROGRAMS:
        pagu = pagu_juta * 1_000_000 + rng.randrange(0, 1000) * 1000
        # ~1 in 5 programmes get a revised ceiling in the APBD-Perubahan (from Q3).
        revised = pagu
        if rng.random() < 0.2:
            revised = int(pagu * rng.uniform(0.9, 1.12)) // 1000 * 1000
        prev = 0.0
        for q in (1, 2, 3, 4):
            lo, hi = QUARTER_TARGET[q]
            share = max(prev + rng.uniform(0.0, 0.03), rng.uniform(lo, hi))
            prev = share
            q_pagu = pagu if q < 3 else revised
            realisasi = min(q_pagu, int(q_pagu * share) // 1000 * 1000)
            persen = f"{realisasi * 100 / q_pagu:.2f}"
            tgl = QUARTER_REPORT[q] + timedelta(days=rng.randrange(0, 6))
            rows.append([2024, kode, urusan, opd, program, q_pagu, realisasi, persen, q,
                         tgl.isoformat()])
    # Sort by quarter, then by urusan code so each report period reads top-down.
    rows.sort(key=lambda r: (r[8], r[1], r[3], r[4]))
    header = ["tahun", "kode_urusan", "urusan", "opd", "program", "pagu", "realisasi",
              "persentase", "triwulan", "tanggal_laporan"]
    write_csv("realisasi-apbd-2024.csv", header, rows)


# ---------------------------------------------------------------------------
# 4. fasilitas-publik (Diskominfo)
# ---------------------------------------------------------------------------

HOURS = {
    "puskesmas": "Senin-Kamis 07.30-14.00, Jumat 07.30-11.00, Sabtu 07.30-12.30",
    "sekolah": "Senin-Jumat 07.00-15.00",
    "taman": "Setiap hari 06.00-22.00",
    "perpustakaan": "Senin-Sabtu 08.00-16.00",
    "titik wifi publik": "24 jam",
    "kantor kelurahan": "Senin-Kamis 08.00-16.00, Jumat 08.00-16.30",
    "pasar": "Setiap hari 05.00-17.00",
}
PARKS = ["Taman Bekapai", "Taman Tiga Generasi", "Taman Adipura", "Taman Kota Balikpapan",
         "Taman Pandan Sari", "Taman Wisata Manggar", "Taman Gunung Samarinda",
         "Taman Sepinggan Pratama", "Taman Kariangau", "Taman Batu Ampar",
         "Taman Telaga Sari", "Taman Lamaru", "Taman Karang Joang", "Taman Margo Mulyo",
         "Taman Graha Indah"]
PARK_DISTRICT = ["Balikpapan Kota", "Balikpapan Kota", "Balikpapan Kota", "Balikpapan Kota",
                 "Balikpapan Tengah", "Balikpapan Timur", "Balikpapan Utara",
                 "Balikpapan Selatan", "Balikpapan Barat", "Balikpapan Utara",
                 "Balikpapan Kota", "Balikpapan Timur", "Balikpapan Utara",
                 "Balikpapan Barat", "Balikpapan Utara"]
MARKETS = [("Pasar Klandasan", "Balikpapan Kota"), ("Pasar Pandansari", "Balikpapan Barat"),
           ("Pasar Inpres Kebun Sayur", "Balikpapan Tengah"),
           ("Pasar Sepinggan", "Balikpapan Selatan"), ("Pasar Manggar Baru", "Balikpapan Timur"),
           ("Pasar Buton", "Balikpapan Kota"), ("Pasar Rapak", "Balikpapan Utara"),
           ("Pasar Baru", "Balikpapan Kota"), ("Pasar Teritip", "Balikpapan Timur"),
           ("Pasar Karang Joang", "Balikpapan Utara")]
LIBRARIES = [("Perpustakaan Daerah Kota Balikpapan", "Balikpapan Kota")] + [
    (f"Perpustakaan Kelurahan {k}", d) for k, d in [
        ("Sepinggan", "Balikpapan Selatan"), ("Manggar", "Balikpapan Timur"),
        ("Batu Ampar", "Balikpapan Utara"), ("Gunung Sari Ilir", "Balikpapan Tengah"),
        ("Margo Mulyo", "Balikpapan Barat"), ("Graha Indah", "Balikpapan Utara"),
        ("Damai Bahagia", "Balikpapan Selatan"), ("Karang Rejo", "Balikpapan Tengah"),
        ("Lamaru", "Balikpapan Timur")]]
WIFI_SPOTS = ["Balai RT", "Masjid", "Taman", "Pos Ronda", "Lapangan", "Posyandu", "Halte",
              "Gedung Serbaguna"]


def gen_fasilitas_publik():
    rng = random.Random(20240817)
    facilities = []  # (nama, jenis, district, kelurahan or None)
    all_kel = [(k, d) for d in DISTRICT_NAMES for k in DISTRICTS[d]["kelurahan"]]

    for k, d in all_kel:
        facilities.append((f"Kantor Kelurahan {k}", "kantor kelurahan", d, k))
    pkm = [kd for kd in all_kel if rng.random() < 0.8][:27]
    for k, d in pkm:
        facilities.append((f"Puskesmas {k}", "puskesmas", d, k))
    for name, d in MARKETS:
        facilities.append((name, "pasar", d, None))
    for name, d in zip(PARKS, PARK_DISTRICT):
        facilities.append((name, "taman", d, None))
    for name, d in LIBRARIES:
        facilities.append((name, "perpustakaan", d, None))
    # Schools: SD numbered per kecamatan, SMP/SMA numbered city-wide.
    sd_counter = {d: 0 for d in DISTRICT_NAMES}
    for _ in range(38):
        d = rng.choices(DISTRICT_NAMES, weights=DISTRICT_WEIGHTS)[0]
        sd_counter[d] += 1
        facilities.append((f"SD Negeri {sd_counter[d]:03d} {d}", "sekolah", d, None))
    for i in range(1, 15):
        d = rng.choices(DISTRICT_NAMES, weights=DISTRICT_WEIGHTS)[0]
        facilities.append((f"SMP Negeri {i} Balikpapan", "sekolah", d, None))
    for i in range(1, 9):
        d = rng.choices(DISTRICT_NAMES, weights=DISTRICT_WEIGHTS)[0]
        facilities.append((f"SMA Negeri {i} Balikpapan", "sekolah", d, None))
    seen = set()
    while len(facilities) < 200:
        k, d = rng.choice(all_kel)
        spot = rng.choice(WIFI_SPOTS)
        rt = rng.randint(1, 70)
        name = f"Wifi Publik {spot} RT {rt:02d} {k}"
        if name in seen:
            continue
        seen.add(name)
        facilities.append((name, "titik wifi publik", d, k))

    rows = []
    start = date(2024, 1, 2)
    for nama, jenis, district, kel in facilities:
        info = DISTRICTS[district]
        kel = kel or rng.choice(info["kelurahan"])
        street = rng.choice(info["streets"])
        alamat = f"{street} No. {rng.randint(1, 200)}, Kel. {kel}, Kec. {district}"
        wifi_p = {"titik wifi publik": 1.0, "taman": 0.8, "perpustakaan": 0.9,
                  "kantor kelurahan": 0.7, "puskesmas": 0.4, "sekolah": 0.5, "pasar": 0.3}[jenis]
        wifi = rng.random() < wifi_p
        lat, lon = coords(rng, district)
        updated = start + timedelta(days=rng.randrange(0, 360))
        rows.append([nama, jenis, district, alamat, b(wifi), HOURS[jenis], lat, lon,
                     updated.isoformat()])
    header = ["nama", "jenis", "district", "alamat", "wifi_gratis", "jam_buka", "latitude",
              "longitude", "diperbarui"]
    write_csv("fasilitas-publik.csv", header, rows)


# ---------------------------------------------------------------------------
# 5. kualitas-udara (DLH): 6-hourly readings at three monitoring stations
# ---------------------------------------------------------------------------

STATIONS = [
    ("SPKU-01", "Balikpapan Kota", 1.0),
    ("SPKU-02", "Balikpapan Barat", 1.25),   # Kariangau industrial area
    ("SPKU-03", "Balikpapan Timur", 0.85),
]
# (concentration breakpoints, index breakpoints), simplified ISPU (P.14/2020).
ISPU_PM25 = [(0, 15.5, 0, 50), (15.5, 55.4, 50, 100), (55.4, 150.4, 100, 200),
             (150.4, 250.4, 200, 300), (250.4, 500.0, 300, 500)]
ISPU_PM10 = [(0, 50, 0, 50), (50, 150, 50, 100), (150, 350, 100, 200),
             (350, 420, 200, 300), (420, 600, 300, 500)]


def ispu(value, table):
    if value is None:
        return None
    for c_lo, c_hi, i_lo, i_hi in table:
        if value <= c_hi:
            return round(i_lo + (value - c_lo) * (i_hi - i_lo) / (c_hi - c_lo))
    return 500


def ispu_category(idx):
    if idx is None:
        return None
    if idx <= 50:
        return "Baik"
    if idx <= 100:
        return "Sedang"
    if idx <= 200:
        return "Tidak Sehat"
    if idx <= 300:
        return "Sangat Tidak Sehat"
    return "Berbahaya"


def gen_kualitas_udara():
    rng = random.Random(20240915)
    start = date(2024, 8, 1)
    days = (date(2024, 10, 31) - start).days + 1
    haze_peak = date(2024, 9, 24)
    rows = []
    outage = {}  # station -> remaining offline readings
    for day in range(days):
        d = start + timedelta(days=day)
        haze = max(0.0, 1.0 - abs((d - haze_peak).days) / 14.0)  # smoke season bump
        for hour in (0, 6, 12, 18):
            when = datetime(d.year, d.month, d.day, hour, 0, 0, tzinfo=WITA)
            diurnal = {0: 1.1, 6: 1.25, 12: 0.8, 18: 1.05}[hour]
            for code, district, factor in STATIONS:
                if outage.get(code, 0) > 0:
                    outage[code] -= 1
                    rows.append([iso(when), code, district] + [None] * 9)
                    continue
                if rng.random() < 0.006:
                    outage[code] = rng.randint(1, 6)
                pm25 = max(2.0, rng.gauss(14.0, 4.0) * factor * diurnal + haze * rng.uniform(50, 95))
                pm10 = max(pm25 * 1.2, pm25 * rng.uniform(1.4, 1.9))
                so2 = max(1.0, rng.gauss(9.0, 3.0) * factor)
                co = max(100.0, rng.gauss(450, 120) * factor * diurnal + haze * 900)
                o3 = max(5.0, rng.gauss(40 if hour == 12 else 22, 8))
                no2 = max(2.0, rng.gauss(16.0, 5.0) * factor * diurnal)
                vals = {"pm10": round(pm10, 1), "pm25": round(pm25, 1), "so2": round(so2, 1),
                        "co": round(co), "o3": round(o3, 1), "no2": round(no2, 1)}
                # Single-sensor dropouts leave individual nulls.
                for key in ("pm10", "so2", "o3"):
                    if rng.random() < 0.01:
                        vals[key] = None
                i25, i10 = ispu(vals["pm25"], ISPU_PM25), ispu(vals["pm10"], ISPU_PM10)
                if i10 is None or i25 >= i10:
                    idx, crit = i25, "PM2.5"
                else:
                    idx, crit = i10, "PM10"
                rows.append([iso(when), code, district, vals["pm10"], vals["pm25"], vals["so2"],
                             vals["co"], vals["o3"], vals["no2"], idx, crit, ispu_category(idx)])
    header = ["waktu", "kode_stasiun", "district", "pm10", "pm25", "so2", "co", "o3", "no2",
              "ispu", "parameter_kritis", "kategori"]
    write_csv("kualitas-udara.csv", header, rows)


def main():
    gen_laporan_jalan()
    gen_titik_sampah()
    gen_realisasi_apbd()
    gen_fasilitas_publik()
    gen_kualitas_udara()


if __name__ == "__main__":
    main()
