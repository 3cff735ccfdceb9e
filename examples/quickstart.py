"""Fit on the shipped demo table, sample, condition, evaluate and save.

    python examples/quickstart.py
"""

import logging

from synthgan import SynthGAN, load_demo
from synthgan.evaluation import evaluate

logging.basicConfig(level=logging.INFO)
real = load_demo()
train, holdout = real.iloc[:4000], real.iloc[4000:]
model = SynthGAN(epochs=100, random_state=0).fit(train)
synthetic = model.sample(len(train))
print(model.sample(5, conditions={"income": ">50K"}))
result = evaluate(train, synthetic, target="income", holdout=holdout)
print(result.summary())
result.write_html("quickstart_report.html", train, synthetic, overwrite=True)
model.save("quickstart.synthgan", overwrite=True)
print(SynthGAN.load("quickstart.synthgan").sample(3))
